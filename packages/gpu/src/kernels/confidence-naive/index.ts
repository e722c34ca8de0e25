/**
 * confidenceNaive (kernels/confidence-naive.wgsl): the paper's literal S(x) = (1/n) Σ_i cos(F_Q(x), T_i),
 * one cosine per (query cell, support foreground cell) pair; what the fused `confidence` is measured against.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { NORM_EPS, type FeatureShape } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { confidenceNaiveReference, validateConfidenceNaive } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'confidence-naive',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { EPS: NORM_EPS },
};

/** Row-major indices of the set cells of a mask. */
export function maskIndices(mask: Uint8Array): Uint32Array {
  let n = 0;
  for (const m of mask) if (m) n++;
  const out = new Uint32Array(n);
  let k = 0;
  mask.forEach((m, i) => {
    if (m) out[k++] = i;
  });
  return out;
}

/** The support's mask travels as a host array: its foreground cells are listed once, on the host. */
export interface ConfidenceNaiveParams extends FeatureShape {
  /** The support grid's mask ([Ns] cells; SynPo's support grid has the query grids' N). */
  supportMask: Uint8Array;
}

/** Query features [B][C][N] and support features [C][Ns] → confidence [B][N]. */
export const confidenceNaive = defineKernel<{ query: T<'f32'>; support: T<'f32'> }, ConfidenceNaiveParams, T<'f32'>>({
  name: 'confidenceNaive',
  shaders: [spec],
  validate: ({ query, support }, { supportMask, ...s }) => validateConfidenceNaive(query, support, supportMask, s),
  record({ rec }, { query, support }, { B, C, N, supportMask }) {
    const fg = maskIndices(supportMask);
    const n = fg.length;
    const supInv = rec.tensor('f32', [n], 'confidence-naive:support-norms');
    const out = rec.tensor('f32', [B, N], 'confidence-naive:out');
    const params = [u32(C), u32(N), u32(B), u32(n), u32(supportMask.length), u32(0), u32(0), u32(0)];
    const bindings = [query, support, rec.upload(fg, 'confidence-naive:fg'), supInv, out];
    rec.dispatch(spec, 'support_norms', bindings, [Math.ceil(n / spec.workgroupSize)], params);
    rec.dispatch(spec, 'main', bindings, grid(B * N, spec.workgroupSize), params);
    return out;
  },
  reference: ({ query, support }, { supportMask, ...s }) =>
    new HostTensor('f32', [s.B, s.N], confidenceNaiveReference(query.data, support.data, supportMask, { B: s.B, C: s.C, N: s.N })),
});
