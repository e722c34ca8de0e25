/**
 * points (kernels/points.wgsl): PSM's bookkeeping between ranked cells and k-means, kept on the
 * device: a seeded subset of each row's cells, and cell indices to (x, y) points.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { length, positiveInt } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { DRAW_RANGE } from '../kmeans/reference.ts';
import { cellPointsReference, sampleRowsReference } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'points',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { DRAW_RANGE },
};

/**
 * Per row of indices [B][n] (the first counts[b] valid), a seeded subset of m ([B][m] 24-bit
 * draws), ascending, in the first slots of a [B][n] tensor; and the subsets' sizes [B].
 */
export const sampleRows = defineKernel<
  { indices: T<'u32'>; counts: T<'u32'>; draws: T<'u32'> },
  { B: number; n: number; m: number },
  { indices: T<'u32'>; counts: T<'u32'> }
>({
  name: 'sampleRows',
  shaders: [spec],
  validate({ indices, counts, draws }, { B, n, m }) {
    for (const [name, v] of [
      ['B', B],
      ['n', n],
      ['m', m],
    ] as const)
      positiveInt('points', name, v);
    length('points', 'indices', indices, B * n);
    length('points', 'counts', counts, B);
    length('points', 'draws', draws, B * m);
  },
  record({ rec }, { indices, counts, draws }, { B, n, m }) {
    const sampled = rec.tensor('u32', [B, n], 'points:sampled', true); // zeros past each subset, as the reference
    const out = rec.tensor('u32', [B], 'points:sample-counts');
    const unused = rec.scratch(4, 'points:unused-out');
    const params = [u32(n), u32(B), u32(0), u32(m), u32(1), u32(0), u32(0), u32(0)];
    rec.dispatch(spec, 'sample_rows', [indices, counts, draws, sampled, unused, out], [B], params);
    return { indices: sampled, counts: out };
  },
  reference({ indices, counts, draws }, { B, n, m }) {
    const r = sampleRowsReference(indices.data, counts.data, B, n, m, draws.data);
    return { indices: new HostTensor('u32', [B, n], r.sampled), counts: new HostTensor('u32', [B], r.counts) };
  },
});

/** Cell indices of a G-wide grid [B][n] (the first counts[b] valid, or all) → points [B][n][2] (x, y) and counts [B]. */
export const cellPoints = defineKernel<
  { indices: T<'u32'>; counts: T<'u32'> | null },
  { B: number; n: number; G: number },
  { points: T<'f32'>; counts: T<'u32'> }
>({
  name: 'cellPoints',
  shaders: [spec],
  validate({ indices, counts }, { B, n, G }) {
    for (const [name, v] of [
      ['B', B],
      ['n', n],
      ['G', G],
    ] as const)
      positiveInt('points', name, v);
    length('points', 'indices', indices, B * n);
    if (counts) length('points', 'counts', counts, B);
  },
  record({ rec }, { indices, counts }, { B, n, G }) {
    const points = rec.tensor('f32', [B, n, 2], 'points:xy', true); // zeros past each row's count, as the reference
    const out = rec.tensor('u32', [B], 'points:counts');
    const unused = rec.scratch(4, 'points:unused');
    const unusedOut = rec.scratch(4, 'points:unused-out');
    const params = [u32(n), u32(B), u32(G), u32(0), u32(counts ? 1 : 0), u32(0), u32(0), u32(0)];
    rec.dispatch(spec, 'cell_points', [indices, counts ?? unused, unused, unusedOut, points, out], grid(B * n, spec.workgroupSize), params);
    return { points, counts: out };
  },
  reference({ indices, counts }, { B, n, G }) {
    const r = cellPointsReference(indices.data, counts ? counts.data : null, B, n, G);
    return { points: new HostTensor('f32', [B, n, 2], r.points), counts: new HostTensor('u32', [B], r.counts) };
  },
});
