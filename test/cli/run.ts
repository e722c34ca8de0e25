/** Runs the synpo command as a user would and collects its exit code and output. */
/// <reference path="../../packages/io/src/dcmjs.d.ts" />
import dcmjs from 'dcmjs';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as nifti from 'nifti-reader-js';
import { worldOf, type Volume } from '@synpo/io';

const synpoBin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));
export { DATA } from '../support/data.ts';
export const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export async function synpo(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [synpoBin, ...args], { timeout: 300_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string; killed?: boolean };
    if (e.killed) throw new Error(`synpo ${args.join(' ')} did not exit within 300 s`);
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/**
 * A float32 NIfTI-1 file with this voxel-to-RAS affine as its sform (and no qform): volumes the
 * tests reorder (flipped, permuted) while every voxel keeps its world position.
 */
export function niftiWithAffine(dims: [number, number, number], data: Float32Array, affine: number[][]): Uint8Array {
  const h = new nifti.NIFTI1();
  h.littleEndian = true;
  h.dims = [3, ...dims, 1, 1, 1, 1];
  h.pixDims = [1, ...[0, 1, 2].map((j) => Math.hypot(affine[0]![j]!, affine[1]![j]!, affine[2]![j]!)), 1, 1, 1, 1];
  h.datatypeCode = 16;
  h.numBitsPerVoxel = 32;
  h.scl_slope = 1;
  h.vox_offset = 352;
  h.magic = 'n+1';
  h.sform_code = 1;
  h.qform_code = 0;
  h.affine = affine.map((r) => [...r]);
  const out = new Uint8Array(352 + data.byteLength);
  out.set(new Uint8Array(h.toArrayBuffer()).subarray(0, 348));
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 352);
  return out;
}

/** A float32 NIfTI-1 file for bad-input cases (NaN voxels, 4-D volumes). */
export function float32Nifti(dims: number[], data: Float32Array): Uint8Array {
  const h = new nifti.NIFTI1();
  h.littleEndian = true;
  h.dims = [dims.length, ...dims, ...Array(7 - dims.length).fill(1)];
  h.pixDims = [1, 1, 1, 1, 1, 1, 1, 1];
  h.datatypeCode = 16;
  h.numBitsPerVoxel = 32;
  h.scl_slope = 1;
  h.vox_offset = 352;
  h.magic = 'n+1';
  h.affine = [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
  const out = new Uint8Array(352 + data.byteLength);
  out.set(new Uint8Array(h.toArrayBuffer()).subarray(0, 348));
  out.set(new Uint8Array(data.buffer), 352);
  return out;
}

/** A NIfTI volume (int16 intensities) as a DICOM series with the same voxels at the same world positions. */
export function asDicomSeries(v: Volume, dir: string, seriesUid: string, opts: { first?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const [nx, ny, nz] = v.dims;
  const A = v.affine;
  // RAS → LPS, and the directions of voxel x (along a row) and y (down a column).
  const lps = (c: number[]) => [-c[0]!, -c[1]!, c[2]!];
  const col = (j: number) => [A[0]![j]!, A[1]![j]!, A[2]![j]!];
  const unit = (c: number[]) => {
    const n = Math.hypot(...c);
    return c.map((x) => x / n);
  };
  const orientation = [...unit(lps(col(0))), ...unit(lps(col(1)))];
  for (let z = 0; z < nz; z++) {
    const position = lps(worldOf(A, [0, 0, z]));
    const pixels = Int16Array.from(v.data.subarray(z * nx * ny, (z + 1) * nx * ny));
    const uid = `${seriesUid}.${z + 1}`;
    const ds = {
      _meta: {
        TransferSyntaxUID: '1.2.840.10008.1.2.1',
        MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
        MediaStorageSOPInstanceUID: uid,
        ImplementationClassUID: '1.2.3',
      },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: uid,
      Modality: 'MR',
      StudyInstanceUID: '1.2.826.1',
      SeriesInstanceUID: seriesUid,
      FrameOfReferenceUID: '1.2.826.3',
      PatientName: 'Chaos^One',
      PatientID: 'C1',
      Rows: ny,
      Columns: nx,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelSpacing: [Math.hypot(...col(1)), Math.hypot(...col(0))],
      ImagePositionPatient: position,
      ImageOrientationPatient: orientation,
      InstanceNumber: z + 1,
      SliceThickness: Math.hypot(...col(2)),
      PixelData: pixels.buffer,
    };
    writeFileSync(join(dir, `IM${String((opts.first ?? 0) + z).padStart(4, '0')}`), new Uint8Array(dcmjs.data.datasetToBuffer(ds)));
  }
}
