/** Runs the synpo command as a user would and collects its exit code and output. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as nifti from 'nifti-reader-js';

const synpoBin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));
export const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));
export const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

export interface Result { code: number; stdout: string; stderr: string }

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
  h.affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const out = new Uint8Array(352 + data.byteLength);
  out.set(new Uint8Array(h.toArrayBuffer()).subarray(0, 348));
  out.set(new Uint8Array(data.buffer), 352);
  return out;
}
