/**
 * CPU reference of kernels/kmeans.wgsl (Lloyd iterations on 2-D points), and the seeded
 * k-means++ initialisation both paths share. Empty clusters are dropped, not re-seeded: a
 * cluster that loses all its points takes no further part, and the result has fewer centres.
 */
import type { Rng } from '../../random.ts';
import { finite, positiveInt, ShapeError } from '../../shapes.ts';

export interface KMeansOptions {
  k: number;
  /** Cap on centroid updates; the GPU and CPU paths stop at the same place. */
  maxIterations?: number;
}

export interface KMeansResult {
  /** Centres of the clusters that kept points, in seeding order: [x0, y0, x1, y1, …]. */
  centroids: Float32Array;
  /** Points per kept cluster. */
  sizes: Uint32Array;
  /** For each point, its cluster's position in `centroids`. */
  assignments: Uint32Array;
  /** Centroid updates performed. */
  iterations: number;
}

export const KMEANS_DEFAULT_MAX_ITERATIONS = 100;

export function validateKMeans(rows: readonly Float32Array[], options: KMeansOptions): void {
  positiveInt('kmeans', 'k', options.k);
  if (options.maxIterations !== undefined && (!Number.isInteger(options.maxIterations) || options.maxIterations < 0)) {
    throw new ShapeError('kmeans', `maxIterations must be a non-negative integer, got ${options.maxIterations}`);
  }
  if (rows.length === 0) throw new ShapeError('kmeans', 'no point sets given');
  rows.forEach((row, b) => {
    if (row.length === 0) throw new ShapeError('kmeans', `point set ${b} is empty`);
    if (row.length % 2 !== 0) throw new ShapeError('kmeans', `point set ${b} has an odd number of coordinates (${row.length}); points are (x, y) pairs`);
    finite('kmeans', `point set ${b}`, row);
  });
}

/** Squared distance in f32, as the kernel computes it: (dx·dx) + (dy·dy), each step rounded. */
const dist2f = (ax: number, ay: number, bx: number, by: number): number => {
  const dx = Math.fround(ax - bx);
  const dy = Math.fround(ay - by);
  return Math.fround(Math.fround(dx * dx) + Math.fround(dy * dy));
};

/** 2^24: k-means++ and subset draws are 24-bit integers u, used as r = u / 2^24 (exact in f32). */
export const DRAW_RANGE = 16777216;

/** `count` draws from `rng` as 24-bit integers: what the GPU's seeding reads. */
export function drawIntegers(rng: Rng, count: number): Uint32Array {
  return Uint32Array.from({ length: count }, () => Math.floor(rng() * DRAW_RANGE));
}

/**
 * k-means++: the first centre uniformly, each next one with probability ∝ D² to the nearest
 * centre so far. Stops early when every point coincides with a centre (fewer distinct points
 * than k), so k > N gives at most N centres. Every step is f32 arithmetic in the kernel's order
 * with the draws u / 2^24, so the GPU's seeding (kernels/kmeans.wgsl) picks the same centres.
 */
export function kmeansPlusPlus(points: Float32Array, k: number, rng: Rng): Float32Array {
  return kmeansPlusPlusFromDraws(points, k, drawIntegers(rng, k));
}

export function kmeansPlusPlusFromDraws(points: Float32Array, k: number, draws: ArrayLike<number>): Float32Array {
  const n = points.length / 2;
  const centres: number[] = [];
  const r0 = draws[0]! / DRAW_RANGE;
  const first = Math.min(n - 1, Math.floor(Math.fround(r0 * n)));
  centres.push(points[2 * first]!, points[2 * first + 1]!);
  const d2 = new Float32Array(n).map((_, i) => dist2f(points[2 * i]!, points[2 * i + 1]!, centres[0]!, centres[1]!));
  while (centres.length / 2 < k) {
    let total = 0;
    for (let i = 0; i < n; i++) total = Math.fround(total + d2[i]!);
    if (total === 0) break;
    const target = Math.fround((draws[centres.length / 2]! / DRAW_RANGE) * total);
    let pick = -1;
    let cum = 0;
    for (let i = 0; i < n; i++) {
      if (d2[i]! === 0) continue;
      pick = i; // the last candidate also absorbs rounding at the end of the sum
      cum = Math.fround(cum + d2[i]!);
      if (cum > target) break;
    }
    const cx = points[2 * pick]!;
    const cy = points[2 * pick + 1]!;
    centres.push(cx, cy);
    for (let i = 0; i < n; i++) d2[i] = Math.min(d2[i]!, dist2f(points[2 * i]!, points[2 * i + 1]!, cx, cy));
  }
  return Float32Array.from(centres);
}

/** Drops clusters without points and renumbers the assignments to match. */
export function compactClusters(centroids: ArrayLike<number>, assign: ArrayLike<number>, n: number, k: number, iterations: number): KMeansResult {
  const sizes = new Uint32Array(k);
  for (let i = 0; i < n; i++) sizes[assign[i]!]!++;
  const remap = new Int32Array(k).fill(-1);
  const kept: number[] = [];
  for (let c = 0; c < k; c++)
    if (sizes[c]! > 0) {
      remap[c] = kept.length;
      kept.push(c);
    }
  return {
    centroids: Float32Array.from(kept.flatMap((c) => [centroids[2 * c]!, centroids[2 * c + 1]!])),
    sizes: Uint32Array.from(kept, (c) => sizes[c]!),
    assignments: Uint32Array.from({ length: n }, (_, i) => remap[assign[i]!]!),
    iterations,
  };
}

/** Lloyd's algorithm from the given seeds, with the kernel's exact stopping rule. */
export function kmeansReference(points: Float32Array, seeds: Float32Array, maxIterations = KMEANS_DEFAULT_MAX_ITERATIONS): KMeansResult {
  const r = lloydReference(points, seeds, maxIterations);
  return compactClusters(r.centroids, r.assign, points.length / 2, seeds.length / 2, r.iterations);
}

/**
 * Lloyd's rounds as the kernel runs them, in the kernel's layout: one centre per seed slot (a
 * dropped one keeps its last position and gets no points), each point's slot, the updates done.
 */
export function lloydReference(
  points: Float32Array,
  seeds: Float32Array,
  maxIterations = KMEANS_DEFAULT_MAX_ITERATIONS,
): { centroids: Float32Array; assign: Uint32Array; iterations: number } {
  const n = points.length / 2;
  const k = seeds.length / 2;
  const centroids = Float64Array.from(seeds);
  const alive = new Uint8Array(k).fill(1);
  const assign = new Uint32Array(n).fill(0xffffffff);
  let iterations = 0;
  for (;;) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      let best = -1;
      let bestD = 0;
      for (let c = 0; c < k; c++) {
        if (!alive[c]) continue;
        // f32 distances, as the kernel computes them, so ties resolve the same way.
        const d = dist2f(points[2 * i]!, points[2 * i + 1]!, Math.fround(centroids[2 * c]!), Math.fround(centroids[2 * c + 1]!));
        if (best < 0 || d < bestD) {
          best = c;
          bestD = d;
        }
      }
      if (assign[i] !== best) {
        assign[i] = best;
        changed++;
      }
    }
    if (changed === 0 || iterations >= maxIterations) break;
    iterations++;
    const sums = new Float64Array(2 * k);
    const counts = new Uint32Array(k);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      sums[2 * c]! += points[2 * i]!;
      sums[2 * c + 1]! += points[2 * i + 1]!;
      counts[c]!++;
    }
    for (let c = 0; c < k; c++) {
      if (!alive[c]) continue;
      if (counts[c] === 0) alive[c] = 0;
      else {
        centroids[2 * c] = sums[2 * c]! / counts[c]!;
        centroids[2 * c + 1] = sums[2 * c + 1]! / counts[c]!;
      }
    }
  }
  return { centroids: Float32Array.from(centroids), assign, iterations };
}
