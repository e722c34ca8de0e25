/**
 * NIfTI-1 in and out, through nifti-reader-js (parsing, header serialisation) and fflate
 * (gzip). Every datatype nifti-reader-js knows is read and scaled by scl_slope / scl_inter. The
 * voxel-to-world affine is the sform when its code is set, else the qform, else the voxel sizes
 * (as nibabel reads them). A written mask reuses the source volume's header: qform and sform
 * exactly as stored (only the datatype, scaling and offsets change), so viewers overlay it on
 * the source.
 */
import { gzipSync } from 'fflate';
import * as nifti from 'nifti-reader-js';
import { ImageFileError } from './errors.ts';
import { gunzipChecked } from './gzip.ts';
import type { Volume } from './volume.ts';

/** Bytes of a NIfTI-1 header and of the extension flag after it: the data cannot start before. */
const HEADER_BYTES = 348;
const MIN_VOX_OFFSET = 352;

type Typed = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

const DATATYPES: Record<number, { name: string; ctor: new (b: ArrayBuffer) => Typed; bytes: number }> = {
  2: { name: 'uint8', ctor: Uint8Array, bytes: 1 },
  4: { name: 'int16', ctor: Int16Array, bytes: 2 },
  8: { name: 'int32', ctor: Int32Array, bytes: 4 },
  16: { name: 'float32', ctor: Float32Array, bytes: 4 },
  64: { name: 'float64', ctor: Float64Array, bytes: 8 },
  256: { name: 'int8', ctor: Int8Array, bytes: 1 },
  512: { name: 'uint16', ctor: Uint16Array, bytes: 2 },
  768: { name: 'uint32', ctor: Uint32Array, bytes: 4 },
  1024: { name: 'int64', ctor: BigInt64Array, bytes: 8 },
  1280: { name: 'uint64', ctor: BigUint64Array, bytes: 8 },
};

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Decodes the voxels into floats, swapping bytes for big-endian files. */
function voxels(buffer: ArrayBuffer, datatype: number, count: number, littleEndian: boolean, file: string): Float64Array | Float32Array {
  const type = DATATYPES[datatype];
  if (!type) throw new ImageFileError(file, `NIfTI datatype ${datatype} is not a scalar type SynPo reads (uint8…uint64, int8…int64, float32, float64)`);
  if (buffer.byteLength < count * type.bytes) {
    throw new ImageFileError(file, `the image data is truncated: ${buffer.byteLength} bytes for ${count} ${type.name} voxels (${count * type.bytes} bytes)`);
  }
  let data = buffer.slice(0, count * type.bytes);
  if (!littleEndian && type.bytes > 1) {
    const b = new Uint8Array(data);
    for (let i = 0; i < b.length; i += type.bytes) b.subarray(i, i + type.bytes).reverse();
    data = b.buffer;
  }
  const typed = new type.ctor(data);
  const out = new Float32Array(count);
  // 64-bit integers come as BigInts, converted one by one; every other type in one copy (the same
  // rounding to float32 as an assignment).
  if (typed instanceof BigInt64Array || typed instanceof BigUint64Array) for (let i = 0; i < count; i++) out[i] = Number(typed[i]!);
  else out.set(typed);
  return out;
}

/** The srow rows as stored in the header (nifti-reader-js keeps them only when it uses them). */
function storedSrow(buffer: ArrayBuffer, littleEndian: boolean): number[][] {
  const view = new DataView(buffer);
  const rows = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => view.getFloat32(280 + (r * 4 + c) * 4, littleEndian)));
  return [...rows, [0, 0, 0, 1]];
}

/** The voxel-to-world affine the header means: sform if set, else qform, else the voxel sizes. */
function headerAffine(header: nifti.NIFTI1, srow: number[][]): number[][] {
  if (header.sform_code > 0) return srow.map((r) => [...r]);
  if (header.qform_code > 0)
    return [
      ...header
        .getQformMat()
        .slice(0, 3)
        .map((r) => [...r]),
      [0, 0, 0, 1],
    ];
  const px = header.pixDims;
  return [
    [Math.abs(px[1] ?? 1) || 1, 0, 0, 0],
    [0, Math.abs(px[2] ?? 1) || 1, 0, 0],
    [0, 0, Math.abs(px[3] ?? 1) || 1, 0],
    [0, 0, 0, 1],
  ];
}

/** Parses a .nii or .nii.gz held in memory; `file` names it in errors. */
export function decodeNifti(bytes: Uint8Array, file: string): Volume {
  if (bytes.length === 0) throw new ImageFileError(file, 'is empty (0 bytes)');
  let buffer = toArrayBuffer(bytes);
  if (nifti.isCompressed(buffer)) buffer = toArrayBuffer(gunzipChecked(new Uint8Array(buffer), file));
  if (!nifti.isNIFTI1(buffer)) {
    if (nifti.isNIFTI2(buffer)) throw new ImageFileError(file, 'NIfTI-2 files are not supported; convert to NIfTI-1 (e.g. with nibabel)');
    if (nifti.isNIFTI1(buffer, true))
      throw new ImageFileError(
        file,
        'is the header of a .hdr/.img pair (magic ni1); SynPo reads single-file .nii / .nii.gz (convert with nibabel or fslchfiletype)',
      );
    throw new ImageFileError(
      file,
      `not a NIfTI-1 file (no n+1 magic in the header${buffer.byteLength < HEADER_BYTES ? `; the file has only ${buffer.byteLength} bytes` : ''})`,
    );
  }
  const header = nifti.readHeader(buffer) as nifti.NIFTI1;
  const offset = header.vox_offset;
  if (!Number.isInteger(offset) || offset < MIN_VOX_OFFSET) {
    throw new ImageFileError(
      file,
      `vox_offset ${offset} is inside the header: a single-file NIfTI-1's voxels start at byte ${MIN_VOX_OFFSET} or later (a damaged or hand-edited header)`,
    );
  }
  if (offset > buffer.byteLength) throw new ImageFileError(file, `vox_offset ${offset} is past the end of the file (${buffer.byteLength} bytes)`);
  const srow = storedSrow(buffer, header.littleEndian);
  const affine = headerAffine(header, srow);
  // What the writer serialises as srow is `affine`: keep the stored rows there.
  header.affine = srow.map((r) => [...r]);
  const dims = header.dims;
  const rank = dims[0]!;
  if (rank < 2 || rank > 7) throw new ImageFileError(file, `the header says ${rank} dimensions`);
  const extra = dims.slice(4, rank + 1).filter((d) => d > 1);
  if (extra.length > 0) {
    throw new ImageFileError(file, `is a ${rank}-D volume (${dims.slice(1, rank + 1).join('×')}); SynPo reads 2-D and 3-D scalar volumes`);
  }
  const nx = dims[1]!;
  const ny = dims[2]!;
  const nz = rank >= 3 ? Math.max(1, dims[3]!) : 1;
  if (nx < 1 || ny < 1) throw new ImageFileError(file, `has an empty in-plane size ${nx}×${ny}`);
  const count = nx * ny * nz;
  if (!affine.flat().every(Number.isFinite)) throw new ImageFileError(file, "the header's affine (sform or qform) has non-finite values");
  const type = DATATYPES[header.datatypeCode];
  const raw = voxels(buffer.slice(offset, offset + count * (type?.bytes ?? 0)), header.datatypeCode, count, header.littleEndian, file);
  // NIfTI: scl_slope 0 means "no scaling".
  const slope = header.scl_slope && Number.isFinite(header.scl_slope) ? header.scl_slope : 1;
  const inter = Number.isFinite(header.scl_inter) ? header.scl_inter : 0;
  const data = raw instanceof Float32Array && slope === 1 && inter === 0 ? raw : Float32Array.from(raw, (v) => v * slope + inter);
  const px = header.pixDims;
  return {
    data,
    dims: [nx, ny, nz],
    spacing: [Math.abs(px[1] ?? 1) || 1, Math.abs(px[2] ?? 1) || 1, Math.abs(px[3] ?? 1) || 1],
    affine,
    source: file,
    header,
  };
}

/**
 * Slice z of a volume read from NIfTI as a one-slice NIfTI header: dims[3] = 1 and both qform and
 * sform moved to that slice, so the slice sits where it sat in the volume.
 */
export function niftiSliceHeader(header: nifti.NIFTI1, z: number): nifti.NIFTI1 {
  const out = Object.assign(new nifti.NIFTI1(), header);
  out.dims = [...header.dims];
  out.dims[3] = 1;
  if (out.dims[0]! < 3) out.dims[0] = 3;
  const q = header.getQformMat();
  out.qoffset_x = header.qoffset_x + q[0]![2]! * z;
  out.qoffset_y = header.qoffset_y + q[1]![2]! * z;
  out.qoffset_z = header.qoffset_z + q[2]![2]! * z;
  out.affine = header.affine.map((r) => [...r]);
  for (let i = 0; i < 3; i++) out.affine[i]![3] = header.affine[i]![3]! + header.affine[i]![2]! * z;
  return out;
}

/**
 * Encodes a label volume with the source volume's header (same dims, qform and sform), gzipped
 * when `gzip` is set: uint8 when every value fits, uint16 when one is above 255.
 */
export function encodeNiftiMask(labels: Uint8Array | Uint16Array, like: Volume, gzip: boolean): Uint8Array {
  const [nx, ny, nz] = like.dims;
  if (labels.length !== nx * ny * nz) {
    throw new RangeError(`mask has ${labels.length} voxels, ${like.source} has ${nx}×${ny}×${nz}`);
  }
  let max = 0;
  for (let i = 0; i < labels.length; i++) max = labels[i]! > max ? labels[i]! : max;
  const wide = max > 255;
  const source = like.header as nifti.NIFTI1 | undefined;
  const header = new nifti.NIFTI1();
  if (source instanceof nifti.NIFTI1) Object.assign(header, source, { extensions: [], extensionFlag: [0, 0, 0, 0] });
  else {
    header.dims = [3, nx, ny, nz, 1, 1, 1, 1];
    header.pixDims = [1, ...like.spacing, 1, 1, 1, 1];
    header.affine = like.affine.map((r) => [...r]);
    header.sform_code = 2;
    header.magic = 'n+1';
  }
  header.littleEndian = true;
  header.datatypeCode = wide ? 512 : 2;
  header.numBitsPerVoxel = wide ? 16 : 8;
  header.scl_slope = 1;
  header.scl_inter = 0;
  header.cal_min = 0;
  header.cal_max = 0;
  header.vox_offset = MIN_VOX_OFFSET;
  header.extensionFlag = [0, 0, 0, 0];
  header.extensions = [];
  header.description = 'synpo mask';
  const head = new Uint8Array(header.toArrayBuffer());
  const body = wide ? new Uint8Array(Uint16Array.from(labels).buffer) : labels instanceof Uint8Array ? labels : Uint8Array.from(labels);
  if (wide && new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('uint16 masks are written on little-endian machines only');
  const out = new Uint8Array(MIN_VOX_OFFSET + body.length);
  out.set(head.subarray(0, HEADER_BYTES), 0); // the 4 bytes after the header say "no extension" (zeros)
  out.set(body, MIN_VOX_OFFSET);
  // No time in the gzip header: the same mask is the same file (reruns, retried queue jobs).
  return gzip ? gzipSync(out, { mtime: 0 }) : out;
}
