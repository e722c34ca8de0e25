/**
 * Orientation: which way a volume's voxel axes run in the patient, and the one canonical order
 * SynPo processes every volume in.
 *
 * The canonical order is LPS+ (as DICOM stores an axial series): voxel x runs toward the
 * patient's left, y toward posterior, z toward superior. A canonical slice is therefore the
 * radiological axial view (patient's right on the image's left, anterior at the top) and slices
 * run feet to head, so support and query volumes stored in different orders (flipped axes, RAS
 * or LPS, sagittal or coronal acquisitions) look the same to the encoders and their organ
 * ranges compare by position along the body axis.
 *
 * Reorienting only permutes and flips voxel axes (no resampling): each voxel axis is assigned to
 * the world axis its direction is closest to, and masks computed on the canonical grid go back
 * to the file's own grid exactly.
 */
import type { Volume } from './volume.ts';

/** World (RAS) sign each canonical axis runs toward: x → left (−R), y → posterior (−A), z → superior (+S). */
const CANONICAL_SIGN = [-1, -1, 1] as const;
export const CANONICAL_NAME = 'LPS+ (x → left, y → posterior, z → superior)';

export interface Reorientation {
  /** For canonical axis c, the file's voxel axis that runs along it. */
  axes: [number, number, number];
  /** For canonical axis c, whether that file axis runs the opposite way. */
  flip: [boolean, boolean, boolean];
  /** The file's dims [nx, ny, nz]. */
  fileDims: [number, number, number];
  /** The canonical grid's dims. */
  dims: [number, number, number];
  /** True when the file is already in canonical order (nothing moves). */
  identity: boolean;
  /** The file's axis codes, e.g. 'LAS' (each voxel axis's direction, as nibabel writes them). */
  fileCode: string;
}

type Voxels = Float32Array | Uint8Array | Uint16Array;

const PERMUTATIONS: [number, number, number][] = [
  [0, 1, 2],
  [0, 2, 1],
  [1, 0, 2],
  [1, 2, 0],
  [2, 0, 1],
  [2, 1, 0],
];
const LETTERS = [
  ['L', 'R'],
  ['P', 'A'],
  ['I', 'S'],
] as const;

/**
 * The reorientation of a volume with this voxel-to-RAS affine and these dims. Each voxel axis
 * goes to the world axis it is closest to (the permutation with the largest total alignment);
 * an affine with a degenerate (zero or non-finite) column leaves the volume as it is. A single
 * slice stays a slice: its third axis is kept as the slice axis.
 */
export function reorientation(affine: number[][], dims: [number, number, number]): Reorientation {
  const columns = [0, 1, 2].map((j) => [0, 1, 2].map((i) => affine[i]?.[j] ?? Number.NaN));
  const norms = columns.map((c) => Math.hypot(...c));
  if (norms.some((n) => !Number.isFinite(n) || n === 0)) {
    return { axes: [0, 1, 2], flip: [false, false, false], fileDims: dims, dims, identity: true, fileCode: '???' };
  }
  const unit = columns.map((c, j) => c.map((v) => v / norms[j]!));
  // perm[j] = the world axis voxel axis j runs along.
  let best = PERMUTATIONS[0]!;
  let bestScore = -1;
  for (const perm of PERMUTATIONS) {
    if (dims[2] === 1 && perm[2] !== 2) continue;
    const score = perm.reduce((s, w, j) => s + Math.abs(unit[j]![w]!), 0);
    if (score > bestScore + 1e-9) [best, bestScore] = [perm, score];
  }
  const axes = [0, 0, 0] as [number, number, number];
  const flip = [false, false, false] as [boolean, boolean, boolean];
  let fileCode = '';
  for (let j = 0; j < 3; j++) {
    const w = best[j]!;
    const sign = Math.sign(unit[j]![w]!) || 1;
    axes[w] = j;
    flip[w] = sign !== CANONICAL_SIGN[w];
    fileCode += LETTERS[w]![sign > 0 ? 1 : 0];
  }
  const canonicalDims = axes.map((a) => dims[a]!) as [number, number, number];
  const identity = axes.every((a, c) => a === c) && flip.every((f) => !f);
  return { axes, flip, fileDims: dims, dims: canonicalDims, identity, fileCode };
}

/** The reorientation of a grid already in canonical order. */
export function identityReorientation(dims: [number, number, number]): Reorientation {
  return { axes: [0, 1, 2], flip: [false, false, false], fileDims: dims, dims, identity: true, fileCode: 'LPS' };
}

/** File voxel index of each canonical voxel, as strides: file = base + Σ step[c]·i_c. */
function strides(r: Reorientation): { base: number; step: [number, number, number] } {
  const [fx, fy] = r.fileDims;
  const fileStride = [1, fx, fx * fy];
  let base = 0;
  const step = [0, 0, 0] as [number, number, number];
  for (let c = 0; c < 3; c++) {
    const s = fileStride[r.axes[c]!]!;
    if (r.flip[c]) {
      base += (r.dims[c]! - 1) * s;
      step[c] = -s;
    } else step[c] = s;
  }
  return { base, step };
}

/** Copies voxels between file order and canonical order, in the direction asked. */
function reorder<T extends Voxels>(data: T, r: Reorientation, toCanonicalOrder: boolean): T {
  if (r.identity) return data;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  const [nx, ny, nz] = r.dims;
  const { base, step } = strides(r);
  let k = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let f = base + z * step[2] + y * step[1];
      if (toCanonicalOrder) for (let x = 0; x < nx; x++, f += step[0]) out[k++] = data[f]!;
      else for (let x = 0; x < nx; x++, f += step[0]) out[f] = data[k++]!;
    }
  }
  return out;
}

/** The file's voxels in canonical order (the same array when the file is canonical). */
export const toCanonical = <T extends Voxels>(data: T, r: Reorientation): T => reorder(data, r, true);

/** Canonical voxels back in the file's own order. */
export const fromCanonical = <T extends Voxels>(data: T, r: Reorientation): T => reorder(data, r, false);

/** The canonical grid's voxel-to-RAS affine: the same world positions as the file's. */
export function canonicalAffine(affine: number[][], r: Reorientation): number[][] {
  // file index = offset + M · canonical index, with M a signed permutation.
  const M = [0, 1, 2].map(() => [0, 0, 0]);
  const offset = [0, 0, 0];
  for (let c = 0; c < 3; c++) {
    const a = r.axes[c]!;
    M[a]![c] = r.flip[c] ? -1 : 1;
    if (r.flip[c]) offset[a] = r.dims[c]! - 1;
  }
  const out = [0, 1, 2].map((i) => {
    const row = affine[i]!;
    const lin = [0, 1, 2].map((c) => row[0]! * M[0]![c]! + row[1]! * M[1]![c]! + row[2]! * M[2]![c]!);
    const t = row[3]! + row[0]! * offset[0]! + row[1]! * offset[1]! + row[2]! * offset[2]!;
    return [...lin, t];
  });
  return [...out, [0, 0, 0, 1]];
}

/** A volume in canonical order, with its affine and spacing to match (the source kept). */
export function canonicalVolume(volume: Volume): { volume: Volume; reorientation: Reorientation } {
  const r = reorientation(volume.affine, volume.dims);
  if (r.identity) return { volume, reorientation: r };
  return {
    volume: {
      ...volume,
      data: toCanonical(volume.data, r),
      dims: r.dims,
      spacing: r.axes.map((a) => volume.spacing[a]!) as [number, number, number],
      affine: canonicalAffine(volume.affine, r),
    },
    reorientation: r,
  };
}

/** The world position (RAS mm) of a voxel index. */
export function worldOf(affine: number[][], [i, j, k]: readonly number[]): [number, number, number] {
  return [0, 1, 2].map((r) => affine[r]![0]! * i! + affine[r]![1]! * j! + affine[r]![2]! * k! + affine[r]![3]!) as [number, number, number];
}
