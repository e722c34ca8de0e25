/**
 * CPU reference of kernels/points.wgsl: PSM's bookkeeping between ranked cells and k-means.
 */
import { DRAW_RANGE } from '../kmeans/reference.ts';

/**
 * A seeded random subset of `m` of `cells` (all of them when there are fewer), in ascending
 * order: partial Fisher–Yates whose i-th swap partner is i + ⌊r·(count − i)⌋ with r = u / 2^24 in
 * f32, as the kernel computes it.
 */
export function sampleSubsetFromDraws(cells: ArrayLike<number>, m: number, draws: ArrayLike<number>): Uint32Array {
  const count = cells.length;
  if (count <= m) return Uint32Array.from(cells);
  const pool = Uint32Array.from(cells);
  for (let i = 0; i < m; i++) {
    const j = i + Math.min(Math.floor(Math.fround((draws[i]! / DRAW_RANGE) * (count - i))), count - i - 1);
    const t = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = t;
  }
  return pool.slice(0, m).sort();
}

/** Per row of [B][n] indices (the first counts[b], or all n): the subset, padded to n, and its size. */
export function sampleRowsReference(
  indices: Uint32Array,
  counts: Uint32Array | null,
  B: number,
  n: number,
  m: number,
  draws: Uint32Array,
): { sampled: Uint32Array; counts: Uint32Array } {
  const sampled = new Uint32Array(B * n);
  const out = new Uint32Array(B);
  for (let b = 0; b < B; b++) {
    const count = counts ? Math.min(counts[b]!, n) : n;
    const s = sampleSubsetFromDraws(indices.subarray(b * n, b * n + count), m, draws.subarray(b * m, (b + 1) * m));
    sampled.set(s, b * n);
    out[b] = s.length;
  }
  return { sampled, counts: out };
}

/** Row-major cell indices of a G-wide grid → (x, y) pairs, [B][n][2], and each row's count. */
export function cellPointsReference(
  indices: Uint32Array,
  counts: Uint32Array | null,
  B: number,
  n: number,
  G: number,
): { points: Float32Array; counts: Uint32Array } {
  const points = new Float32Array(B * n * 2);
  const out = new Uint32Array(B);
  for (let b = 0; b < B; b++) {
    const count = counts ? Math.min(counts[b]!, n) : n;
    out[b] = count;
    for (let i = 0; i < count; i++) {
      const cell = indices[b * n + i]!;
      points[2 * (b * n + i)] = cell % G;
      points[2 * (b * n + i) + 1] = Math.floor(cell / G);
    }
  }
  return { points, counts: out };
}
