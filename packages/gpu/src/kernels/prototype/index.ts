/** prototype (kernels/prototype.wgsl): CMSM's t̄ = (1/n) Σ_{i ∈ fg} F_i / ‖F_i‖ for B support grids. */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { NORM_EPS, type FeatureShape } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { prototypeReference, validatePrototype } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'prototype',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { EPS: NORM_EPS },
};

/** Features [B][C][N] and masks [B][N] (every mask with a foreground cell) → prototypes [B][C]. */
export const prototype = defineKernel<{ features: T<'f32'>; masks: T<'mask'> }, FeatureShape, T<'f32'>>({
  name: 'prototype',
  shaders: [spec],
  validate: ({ features, masks }, s) => validatePrototype(features, masks, s),
  record({ rec }, { features, masks }, { B, C, N }) {
    const invNorm = rec.tensor('f32', [B, N], 'prototype:inv-norm');
    const out = rec.tensor('f32', [B, C], 'prototype:out');
    const params = [u32(C), u32(N), u32(B), u32(0)];
    rec.dispatch(spec, 'cell_norms', [features, masks, invNorm, out], grid(B * N, spec.workgroupSize), params);
    rec.dispatch(spec, 'main', [features, masks, invNorm, out], [C, B], params);
    return out;
  },
  reference: ({ features, masks }, s) => new HostTensor('f32', [s.B, s.C], prototypeReference(features.data, masks.data, s)),
});
