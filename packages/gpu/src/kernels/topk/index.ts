/**
 * topk (kernels/topk.wgsl): the k largest values of each of B rows with their indices, ties to the
 * lower index: a bitonic sort of (value, index) pairs, padded to a power of two.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import type { RowsShape } from '../moments/reference.ts';
import { topkReference, validateTopK } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'topk', bindings: ['uniform', 'read', 'storage', 'storage'], workgroupSize: 256 };

/** Padded row length: a power of two, at least one workgroup block (2·WG pairs). */
export function topkRowLength(N: number): number {
  let P = 2 * spec.workgroupSize;
  while (P < N) P *= 2;
  return P;
}

export interface TopKParams extends RowsShape {
  k: number;
}

/** Values [B][N] → the k largest per row, [B][k], and their indices [B][k], largest first. */
export const topk = defineKernel<{ values: T<'f32'> }, TopKParams, { values: T<'f32'>; indices: T<'u32'> }>({
  name: 'topk',
  shaders: [spec],
  validate: ({ values }, s) => validateTopK(values, s, s.k),
  record({ rec }, { values }, { B, N, k }) {
    const wg = spec.workgroupSize;
    const P = topkRowLength(N);
    const block = 2 * wg;
    const vals = rec.tensor('f32', [B, P], 'topk:values');
    const idx = rec.tensor('u32', [B, P], 'topk:indices');
    const bindings = [values, vals, idx];
    const params = (size: number, j: number) => [u32(N), u32(P), u32(B), u32(size), u32(j), u32(0), u32(0), u32(0)];
    rec.dispatch(spec, 'init', bindings, grid(B * P, wg), params(0, 0));
    rec.dispatch(spec, 'sort_blocks', bindings, [P / block, B], params(0, 0));
    for (let size = 2 * block; size <= P; size *= 2) {
      for (let j = size / 2; j >= block; j /= 2) rec.dispatch(spec, 'global_step', bindings, [Math.ceil(P / 2 / wg), B], params(size, j));
      rec.dispatch(spec, 'merge_blocks', bindings, [P / block, B], params(size, 0));
    }
    // Each sorted row starts with its top k: gather them into [B][k].
    const top = rec.tensor('f32', [B, k], 'topk:top-values');
    const topIdx = rec.tensor('u32', [B, k], 'topk:top-indices');
    for (let b = 0; b < B; b++) {
      rec.copy(vals, b * P * 4, top, b * k * 4, k * 4);
      rec.copy(idx, b * P * 4, topIdx, b * k * 4, k * 4);
    }
    return { values: top, indices: topIdx };
  },
  reference({ values }, s) {
    const rows = topkReference(values.data, s, s.k);
    const vals = new Float32Array(s.B * s.k);
    const idx = new Uint32Array(s.B * s.k);
    rows.forEach((r, b) => {
      vals.set(r.values, b * s.k);
      idx.set(r.indices, b * s.k);
    });
    return { values: new HostTensor('f32', [s.B, s.k], vals), indices: new HostTensor('u32', [s.B, s.k], idx) };
  },
});
