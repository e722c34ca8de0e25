/** GPU wrapper of kernels/kmeans.wgsl. */
import { compactClusters, KMEANS_DEFAULT_MAX_ITERATIONS, type KMeansResult } from '../reference/kmeans.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime, Recorder } from '../runtime.ts';
import { ShapeError } from '../shapes.ts';
import { u32, type UniformField } from '../uniforms.ts';

export const kmeansSpec: KernelSpec = {
  name: 'kmeans',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

export interface KMeansBuffers {
  centroids: Slot;
  assign: Slot;
  alive: Slot;
  /** [B][4] u32: done, changed, iterations, unused. */
  state: Slot;
  bindings: Slot[];
  params: UniformField[];
  wg: number;
  B: number;
  K: number;
  nMax: number;
}

/**
 * Sets up k-means state for B point sets of at most `nMax` points each, seeded by `centroids`
 * ([B][K] vec2), with `alive` ([B][K] u32) marking the seeded slots; `recordKMeansRounds`
 * then records the iterations. Rows converge independently.
 */
export function recordKMeans(
  rec: Recorder,
  points: Slot,
  counts: Slot,
  centroids: Slot,
  alive: Slot,
  { B, K, nMax, maxIterations }: { B: number; K: number; nMax: number; maxIterations: number },
): KMeansBuffers {
  const wg = kmeansSpec.workgroupSize;
  if (Math.ceil(nMax / wg) > 65535) throw new ShapeError('kmeans', `${nMax} points per set exceed one dispatch`);
  const assign = rec.upload(new Uint32Array(B * nMax).fill(0xffffffff), 'kmeans:assign');
  const state = rec.scratch(B * 4 * 4, 'kmeans:state', true);
  return { centroids, assign, state, alive, bindings: [points, counts, centroids, assign, alive, state], params: [u32(nMax), u32(K), u32(B), u32(maxIterations)], wg, B, K, nMax };
}

/** Records `rounds` Lloyd rounds (assign → finish → update); converged rows return early. */
export function recordKMeansRounds(rec: Recorder, k: KMeansBuffers, rounds: number): void {
  for (let it = 0; it < rounds; it++) {
    rec.dispatch(kmeansSpec, 'assign_points', k.bindings, [Math.ceil(k.nMax / k.wg), k.B], k.params);
    rec.dispatch(kmeansSpec, 'finish', k.bindings, [k.B], k.params);
    rec.dispatch(kmeansSpec, 'update_centroids', k.bindings, [k.K, k.B], k.params);
  }
}

/** Rounds recorded per submission before the host checks whether every row has converged. */
const ROUNDS_PER_CHECK = 8;

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
    rec.upload(centroids, 'kmeans:centroids'),
    rec.upload(alive, 'kmeans:alive'),
    { B, K, nMax, maxIterations },
  );
  // maxIterations updates take maxIterations + 1 assignments. Rounds go in batches, with one
  // small readback of the row states between batches to stop once every row has converged.
  let st = { value: null as Uint32Array | null };
  for (let done = 0; done <= maxIterations; done += ROUNDS_PER_CHECK) {
    recordKMeansRounds(rec, out, Math.min(ROUNDS_PER_CHECK, maxIterations + 1 - done));
    st = rec.read(out.state, Uint32Array);
    await rec.flush();
    if (st.value!.every((v, i) => i % 4 !== 0 || v !== 0)) break;
  }
  const c = rec.read(out.centroids, Float32Array);
  const a = rec.read(out.assign, Uint32Array);
  await rec.submit();
  return rows.map((row, b) => {
    const n = row.length / 2;
    return compactClusters(c.value!.subarray(b * K * 2), a.value!.subarray(b * nMax, b * nMax + n), n, K, st.value![4 * b + 2]!);
  });
}
