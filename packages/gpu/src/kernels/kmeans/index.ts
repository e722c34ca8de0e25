/**
 * kmeans (kernels/kmeans.wgsl): PSM's clustering of B independent 2-D point sets, k-means++ seeding
 * from 24-bit draws and every Lloyd round in one dispatch per set. Empty clusters are dropped.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { length, positiveInt, ShapeError } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { DRAW_RANGE, kmeansPlusPlusFromDraws, lloydReference } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'kmeans',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { DRAW_RANGE },
};

export interface KMeansParams {
  B: number;
  /** Points per row (the first counts[b] of each are used). */
  n: number;
  k: number;
  maxIterations: number;
}

/**
 * Points [B][n][2] (the first counts[b] of row b) and draws [B][k] → centres [B][k][2] in seeding
 * order and their sizes [B][k] (0: a centre never seeded or dropped empty).
 */
export const kmeans = defineKernel<{ points: T<'f32'>; counts: T<'u32'>; draws: T<'u32'> }, KMeansParams, { centroids: T<'f32'>; sizes: T<'u32'> }>({
  name: 'kmeans',
  shaders: [spec],
  validate({ points, counts, draws }, { B, n, k, maxIterations }) {
    positiveInt('kmeans', 'B', B);
    positiveInt('kmeans', 'n', n);
    positiveInt('kmeans', 'k', k);
    if (!Number.isInteger(maxIterations) || maxIterations < 0)
      throw new ShapeError('kmeans', `maxIterations must be a non-negative integer, got ${maxIterations}`);
    length('kmeans', 'points', points, B * n * 2);
    length('kmeans', 'counts', counts, B);
    length('kmeans', 'draws', draws, B * k);
  },
  record({ rec }, { points, counts, draws }, { B, n, k, maxIterations }) {
    const centroids = rec.tensor('f32', [B, k, 2], 'kmeans:centroids', true); // zeros in slots never seeded, as the reference
    const sizes = rec.tensor('u32', [B, k], 'kmeans:sizes');
    const assign = rec.tensor('u32', [B, n], 'kmeans:assign');
    const state = rec.tensor('u32', [B, 2], 'kmeans:state');
    const params = [u32(n), u32(k), u32(B), u32(maxIterations), u32(1), u32(0), u32(0), u32(0)];
    rec.dispatch(spec, 'solve', [points, counts, draws, centroids, assign, sizes, state], [B], params);
    return { centroids, sizes };
  },
  reference({ points, counts, draws }, { B, n, k, maxIterations }) {
    const centroids = new Float32Array(B * k * 2);
    const sizes = new Uint32Array(B * k);
    for (let b = 0; b < B; b++) {
      const count = counts.data[b]!;
      if (count === 0) continue;
      const row = points.data.subarray(b * n * 2, (b * n + count) * 2);
      const seeds = kmeansPlusPlusFromDraws(row, k, draws.data.subarray(b * k, (b + 1) * k));
      // The kernel's layout: one slot per seeded centre, size 0 for a dropped one.
      const r = lloydReference(row, seeds, maxIterations);
      centroids.set(r.centroids.subarray(0, seeds.length), b * k * 2);
      for (const a of r.assign) sizes[b * k + a]!++;
    }
    return { centroids: new HostTensor('f32', [B, k, 2], centroids), sizes: new HostTensor('u32', [B, k], sizes) };
  },
});
