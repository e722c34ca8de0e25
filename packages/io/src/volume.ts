import * as nifti from 'nifti-reader-js';
import { isDicomSeriesInfo } from './dicom.ts';
import { niftiSliceHeader } from './nifti.ts';

/**
 * A 3-D scalar volume in its file's voxel order (x fastest, then y, then z), as floats after
 * the file's scaling. Slices are taken along z: slice z is a ny×nx image (rows y, columns x)
 * whose pixel (y, x) is `data[x + nx·(y + ny·z)]`, a contiguous block.
 */
export interface Volume {
  data: Float32Array;
  /** [nx, ny, nz] */
  dims: [number, number, number];
  /** Voxel size in mm, [dx, dy, dz]. */
  spacing: [number, number, number];
  /** 4×4 voxel-to-world (RAS mm) matrix. */
  affine: number[][];
  /** Where it came from (a path, or a name for built-in data). */
  source: string;
  /** The format's own header, kept so that outputs can reuse it (NIfTI: the NIFTI1 object; DICOM: DicomSeriesInfo). */
  header?: unknown;
  /** What the reader assumed or repaired, for the user to see. */
  warnings?: string[];
}

/** A voxel by its index in the file's order and its place (x, y, z), with its value. */
export interface VoxelAt {
  index: number;
  x: number;
  y: number;
  z: number;
  value: number;
}

/** The first voxel that is NaN or ±Infinity, or null: SynPo needs finite intensities. */
export function nonFiniteVoxel(volume: Volume): VoxelAt | null {
  const index = volume.data.findIndex((v) => !Number.isFinite(v));
  if (index < 0) return null;
  const [nx, ny] = volume.dims;
  return { index, x: index % nx, y: Math.floor(index / nx) % ny, z: Math.floor(index / (nx * ny)), value: volume.data[index]! };
}

export function sliceOf(volume: Volume, z: number): Float32Array {
  const [nx, ny, nz] = volume.dims;
  if (!Number.isInteger(z) || z < 0 || z >= nz) throw new RangeError(`${volume.source}: slice ${z} is outside 0..${nz - 1}`);
  return volume.data.subarray(nx * ny * z, nx * ny * (z + 1));
}

/**
 * Slice z of a volume as a one-slice volume that stays where it was in the world: the affine
 * (and a NIfTI header's qform and sform) moved to that slice.
 */
export function sliceVolume(volume: Volume, z: number): Volume {
  const [nx, ny] = volume.dims;
  const data = sliceOf(volume, z).slice();
  const affine = volume.affine.map((r) => [...r]);
  for (let i = 0; i < 3; i++) affine[i]![3] = volume.affine[i]![3]! + volume.affine[i]![2]! * z;
  const header =
    volume.header instanceof nifti.NIFTI1
      ? niftiSliceHeader(volume.header, z)
      : isDicomSeriesInfo(volume.header)
        ? { ...volume.header, instances: [volume.header.instances[z]!] }
        : undefined;
  return { ...volume, data, dims: [nx, ny, 1], affine, header, source: `${volume.source} slice ${z}` };
}
