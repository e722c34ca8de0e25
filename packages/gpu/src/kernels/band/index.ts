/**
 * band (kernels/band.wgsl): PSM's negative candidate band, the cells whose value lies in [lo, hi],
 * compacted into each row's ascending list of indices (count, scan, scatter: stable, no atomics).
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { ShapeError } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import type { RowsShape } from '../moments/reference.ts';
import { bandReference, validateBand } from './reference.ts';

export * from './reference.ts';

/** Values each invocation owns (ITEMS in band.wgsl). */
export const BAND_ITEMS = 16;

const spec: KernelSpec = {
  name: 'band',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 256,
  constants: { ITEMS: BAND_ITEMS },
};

/** Values [B][N] and bounds [B][2] → indices [B][N] (each row's hits first, ascending) and counts [B]. */
export const band = defineKernel<{ values: T<'f32'>; bounds: T<'f32'> }, RowsShape, { indices: T<'u32'>; counts: T<'u32'> }>({
  name: 'band',
  shaders: [spec],
  validate({ values, bounds }, s) {
    validateBand(values, bounds, s);
    const blocks = Math.ceil(s.N / (spec.workgroupSize * BAND_ITEMS));
    if (blocks > 65535) throw new ShapeError('band', `N = ${s.N} needs ${blocks} workgroups per row, over the 65,535 a dispatch allows`);
  },
  record({ rec }, { values, bounds }, { B, N }) {
    const blocks = Math.ceil(N / (spec.workgroupSize * BAND_ITEMS));
    const blockSums = rec.tensor('u32', [B, blocks], 'band:block-sums');
    const counts = rec.tensor('u32', [B], 'band:counts');
    const indices = rec.tensor('u32', [B, N], 'band:indices', true); // zeros past each row's hits, as the reference
    const params = [u32(N), u32(B), u32(blocks), u32(0)];
    const bindings = [values, bounds, blockSums, counts, indices];
    rec.dispatch(spec, 'count_blocks', bindings, [blocks, B], params);
    rec.dispatch(spec, 'scan_blocks', bindings, [B], params);
    rec.dispatch(spec, 'scatter', bindings, [blocks, B], params);
    return { indices, counts };
  },
  reference({ values, bounds }, s) {
    const b = bounds.data;
    const rows = bandReference(
      values.data,
      Array.from({ length: s.B }, (_, r) => [b[2 * r]!, b[2 * r + 1]!] as const),
      s,
    );
    const indices = new Uint32Array(s.B * s.N);
    rows.forEach((row, r) => indices.set(row, r * s.N));
    return {
      indices: new HostTensor('u32', [s.B, s.N], indices),
      counts: new HostTensor(
        'u32',
        [s.B],
        Uint32Array.from(rows, (r) => r.length),
      ),
    };
  },
});
