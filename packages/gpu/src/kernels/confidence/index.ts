/** confidence (kernels/confidence.wgsl): CMSM's S(x) = F̂(x) · t̄ for every cell of B feature grids. */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { lengthOf, NORM_EPS, type FeatureShape } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { confidenceReference, validateConfidence } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'confidence',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 64,
  constants: { EPS: NORM_EPS },
};

/** Features [B][C][N] and prototypes ([C], shared by all grids, or [B][C]) → confidence [B][N]. */
export const confidence = defineKernel<{ features: T<'f32'>; prototypes: T<'f32'> }, FeatureShape, T<'f32'>>({
  name: 'confidence',
  shaders: [spec],
  validate: ({ features, prototypes }, s) => validateConfidence(features, prototypes, s),
  record({ rec }, { features, prototypes }, { B, C, N }) {
    const out = rec.tensor('f32', [B, N], 'confidence:out');
    const shared = lengthOf(prototypes) === C;
    rec.dispatch(spec, 'main', [features, prototypes, out], grid(B * N, spec.workgroupSize), [u32(C), u32(N), u32(B), u32(shared ? 0 : C)]);
    return out;
  },
  reference: ({ features, prototypes }, s) => new HostTensor('f32', [s.B, s.N], confidenceReference(features.data, prototypes.data, s)),
});
