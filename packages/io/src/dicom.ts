/**
 * A DICOM series (one folder of single-frame slices) as a volume, through dicom-parser. Slices
 * are ordered by their position along the slice normal (ImagePositionPatient projected on
 * the cross product of the ImageOrientationPatient cosines), falling back to InstanceNumber;
 * intensities get RescaleSlope / RescaleIntercept; the affine is converted from DICOM's LPS to
 * NIfTI's RAS. Uncompressed transfer syntaxes only: a compressed series gets a clear error.
 */
import dicomParser from 'dicom-parser';
import { ImageFileError } from './errors.ts';
import type { Volume } from './volume.ts';

const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);

export interface DicomSlice {
  file: string;
  rows: number;
  columns: number;
  pixels: Float32Array;
  position: [number, number, number] | null;
  orientation: number[] | null;
  spacing: [number, number];
  thickness: number;
  instance: number;
}

function numbers(ds: dicomParser.DataSet, tag: string, count: number): number[] | null {
  const values = Array.from({ length: count }, (_, i) => ds.floatString(tag, i));
  return values.every((v) => v !== undefined && Number.isFinite(v)) ? (values as number[]) : null;
}

export function decodeDicomSlice(bytes: Uint8Array, file: string): DicomSlice {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (error) {
    throw new ImageFileError(file, `not a readable DICOM file (${error instanceof Error ? error.message : String(error)})`);
  }
  const syntax = ds.string('x00020010')?.trim() ?? '1.2.840.10008.1.2';
  if (!UNCOMPRESSED.has(syntax)) {
    throw new ImageFileError(file, `compressed DICOM (transfer syntax ${syntax}) is not supported; decompress it first (e.g. gdcmconv --raw)`);
  }
  const rows = ds.uint16('x00280010');
  const columns = ds.uint16('x00280011');
  const bits = ds.uint16('x00280100');
  const signed = ds.uint16('x00280103') === 1;
  const samples = ds.uint16('x00280002') ?? 1;
  const pixel = ds.elements['x7fe00010'];
  if (!rows || !columns || !bits || !pixel) throw new ImageFileError(file, 'has no image (Rows, Columns, BitsAllocated or PixelData missing)');
  if (samples !== 1) throw new ImageFileError(file, `has ${samples} samples per pixel; SynPo reads greyscale DICOM`);
  const count = rows * columns;
  const bytesPer = bits / 8;
  if (![1, 2, 4].includes(bytesPer)) throw new ImageFileError(file, `BitsAllocated ${bits} is not supported`);
  if (pixel.length < count * bytesPer || pixel.dataOffset + count * bytesPer > bytes.length) {
    throw new ImageFileError(file, `pixel data is truncated: ${Math.min(pixel.length, bytes.length - pixel.dataOffset)} bytes for ${rows}×${columns}×${bytesPer}`);
  }
  const little = syntax !== '1.2.840.10008.1.2.2';
  const view = new DataView(bytes.buffer, bytes.byteOffset + pixel.dataOffset, count * bytesPer);
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  const pixels = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const raw = bytesPer === 1 ? (signed ? view.getInt8(i) : view.getUint8(i))
      : bytesPer === 2 ? (signed ? view.getInt16(2 * i, little) : view.getUint16(2 * i, little))
      : (signed ? view.getInt32(4 * i, little) : view.getUint32(4 * i, little));
    pixels[i] = raw * slope + intercept;
  }
  const spacing = numbers(ds, 'x00280030', 2) ?? [1, 1];
  return {
    file,
    rows,
    columns,
    pixels,
    position: numbers(ds, 'x00200032', 3) as [number, number, number] | null,
    orientation: numbers(ds, 'x00200037', 6),
    spacing: [spacing[0]!, spacing[1]!],
    thickness: ds.floatString('x00180050') ?? 1,
    instance: ds.intString('x00200013') ?? 0,
  };
}

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/** Stacks decoded slices into a volume; `folder` names the series in errors. */
export function stackDicomSlices(slices: DicomSlice[], folder: string): Volume {
  if (slices.length === 0) throw new ImageFileError(folder, 'holds no DICOM slices');
  const first = slices[0]!;
  for (const s of slices) {
    if (s.rows !== first.rows || s.columns !== first.columns) {
      throw new ImageFileError(s.file, `is ${s.columns}×${s.rows}, the series' first slice ${first.file} is ${first.columns}×${first.rows}`);
    }
  }
  const orientation = first.orientation ?? [1, 0, 0, 0, 1, 0];
  const rowDir = orientation.slice(0, 3);
  const colDir = orientation.slice(3, 6);
  const normal = cross(rowDir, colDir);
  const key = (s: DicomSlice) => (s.position ? dot(s.position, normal) : s.instance);
  const ordered = [...slices].sort((a, b) => key(a) - key(b) || a.instance - b.instance);
  const nz = ordered.length;
  const plane = first.rows * first.columns;
  const data = new Float32Array(plane * nz);
  ordered.forEach((s, z) => data.set(s.pixels, z * plane));
  const dz = nz > 1 && ordered[0]!.position && ordered[1]!.position ? Math.abs(key(ordered[1]!) - key(ordered[0]!)) || first.thickness : first.thickness;
  // PixelSpacing is (between rows, between columns): x (columns) steps by [1], y (rows) by [0].
  const [dy, dx] = first.spacing;
  const origin = ordered[0]!.position ?? [0, 0, 0];
  const lps = [
    [rowDir[0]! * dx, colDir[0]! * dy, normal[0]! * dz, origin[0]],
    [rowDir[1]! * dx, colDir[1]! * dy, normal[1]! * dz, origin[1]],
    [rowDir[2]! * dx, colDir[2]! * dy, normal[2]! * dz, origin[2]],
  ];
  // LPS → RAS: negate the first two rows.
  const affine = [lps[0]!.map((v) => -v!), lps[1]!.map((v) => -v!), lps[2]!.map((v) => v!), [0, 0, 0, 1]];
  return { data, dims: [first.columns, first.rows, nz], spacing: [dx, dy, dz], affine, source: folder };
}
