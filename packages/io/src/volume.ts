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
  /** The format's own header, kept so that outputs can reuse it (NIfTI: the NIFTI1 object). */
  header?: unknown;
}

export function sliceOf(volume: Volume, z: number): Float32Array {
  const [nx, ny, nz] = volume.dims;
  if (!Number.isInteger(z) || z < 0 || z >= nz) throw new RangeError(`${volume.source}: slice ${z} is outside 0..${nz - 1}`);
  return volume.data.subarray(nx * ny * z, nx * ny * (z + 1));
}
