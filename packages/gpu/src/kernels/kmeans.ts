/** GPU wrapper of kernels/kmeans.wgsl: seeding and every Lloyd round in one dispatch. */
import { compactClusters, KMEANS_DEFAULT_MAX_ITERATIONS, type KMeansResult } from '../reference/kmeans.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime, Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

export const kmeansSpec: KernelSpec = {
  name: 'kmeans',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

export interface KMeansBuffers {
  /** [B][K] vec2 centres (those with size 0 were dropped). */
  centroids: DeviceTensor;
  /** [B][Nmax] u32: each point's centre. */
  assign: DeviceTensor;
  /** [B][K] u32: points per centre at the end. */
  sizes: DeviceTensor;
  /** [B][2] u32: centroid updates performed, centres seeded. */
  state: DeviceTensor;
}

/** How the centres start: the host's (with live flags) or seeded k-means++ from 24-bit draws. */
export type KMeansInit = { centroids: DeviceTensor; alive: DeviceTensor } | { draws: Slot };

/**
 * Records k-means for B point sets ([B][nMax] vec2, `counts` [B] points per set) in one dispatch.
 * With host seeds, `centroids` and `alive` are written in place.
 */
export function recordKMeans(
  rec: Recorder,
  points: Slot,
  counts: Slot,
  init: KMeansInit,
  { B, K, nMax, maxIterations }: { B: number; K: number; nMax: number; maxIterations: number },
): KMeansBuffers {
  const seeded = 'draws' in init;
  const centroids = seeded ? rec.scratch(B * K * 8, 'kmeans:centroids') : init.centroids;
  const sizes = seeded ? rec.scratch(B * K * 4, 'kmeans:sizes', false, 'u32') : init.alive;
  const draws = seeded ? init.draws : rec.scratch(4, 'kmeans:no-draws');
  const assign = rec.scratch(B * Math.max(nMax, 1) * 4, 'kmeans:assign', false, 'u32');
  const state = rec.scratch(B * 2 * 4, 'kmeans:state', false, 'u32');
  rec.dispatch(
    kmeansSpec,
    'solve',
    [points, counts, draws, centroids, assign, sizes, state],
    [B],
    [u32(nMax), u32(K), u32(B), u32(maxIterations), u32(seeded ? 1 : 0), u32(0), u32(0), u32(0)],
  );
  return { centroids, assign, sizes, state };
}

/** Lloyd's algorithm from given seeds (one Float32Array of K' ≤ K (x, y) pairs per set). */
export async function kmeansGpu(
  rt: GpuRuntime,
  rows: readonly Float32Array[],
  seeds: readonly Float32Array[],
  maxIterations = KMEANS_DEFAULT_MAX_ITERATIONS,
): Promise<KMeansResult[]> {
  const B = rows.length;
  const nMax = Math.max(...rows.map((r) => r.length / 2));
  const K = Math.max(...seeds.map((s) => s.length / 2));
  const points = new Float32Array(B * nMax * 2);
  const counts = new Uint32Array(B);
  const centroids = new Float32Array(B * K * 2);
  const alive = new Uint32Array(B * K);
  rows.forEach((row, b) => {
    points.set(row, b * nMax * 2);
    counts[b] = row.length / 2;
    centroids.set(seeds[b]!, b * K * 2);
    alive.fill(1, b * K, b * K + seeds[b]!.length / 2);
  });
  const rec = rt.recorder('kmeans');
  // Rows seeded with fewer than K centres start with the remaining slots dead.
  const out = recordKMeans(
    rec,
    rec.upload(points, 'kmeans:points'),
    rec.upload(counts, 'kmeans:counts'),
    { centroids: rec.upload(centroids, 'kmeans:centroids'), alive: rec.upload(alive, 'kmeans:alive') },
    { B, K, nMax, maxIterations },
  );
  const c = rec.read(out.centroids, Float32Array);
  const a = rec.read(out.assign, Uint32Array);
  const st = rec.read(out.state, Uint32Array);
  await rec.submit();
  return rows.map((row, b) => {
    const n = row.length / 2;
    return compactClusters(c.value!.subarray(b * K * 2), a.value!.subarray(b * nMax, b * nMax + n), n, K, st.value![2 * b]!);
  });
}
