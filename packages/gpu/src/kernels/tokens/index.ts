/**
 * tokens (kernels/tokens.wgsl): a ViT's output tokens [B][T][C] to channel-first feature grids
 * [B][C][cells] on the device, the leading CLS and register tokens dropped.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { tokensToGridReference, validateTokens, type TokenShape } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'tokens', bindings: ['uniform', 'read', 'storage'], workgroupSize: 64 };

export const tokensToGrid = defineKernel<{ tokens: T<'f32'> }, TokenShape, T<'f32'>>({
  name: 'tokensToGrid',
  shaders: [spec],
  validate: ({ tokens }, s) => validateTokens(tokens, s),
  record({ rec }, { tokens }, s) {
    const count = s.B * s.C * s.cells;
    const out = rec.tensor('f32', [s.B, s.C, s.cells], 'tokens:grid');
    const params = [u32(s.B), u32(s.T), u32(s.C), u32(s.skip), u32(s.cells), u32(0), u32(0), u32(0)];
    rec.dispatch(spec, 'to_grid', [tokens, out], grid(count, spec.workgroupSize), params);
    return out;
  },
  reference: ({ tokens }, s) => new HostTensor('f32', [s.B, s.C, s.cells], tokensToGridReference(tokens.data, s)),
});
