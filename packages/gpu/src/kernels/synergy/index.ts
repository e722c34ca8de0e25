/** synergy (kernels/synergy.wgsl): CMSM's Hadamard fusion, SynMap = δSD·(a ⊙ b) + δS·a + δD·b. */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { synergyReference, validateSynergy, type SynergyWeights } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'synergy', bindings: ['uniform', 'read', 'read', 'storage'], workgroupSize: 64 };

/** Two confidence maps of one shape (any shape) → their fusion, of that shape. */
export const synergy = defineKernel<{ a: T<'f32'>; b: T<'f32'> }, SynergyWeights, T<'f32'>>({
  name: 'synergy',
  shaders: [spec],
  validate: ({ a, b }, w) => validateSynergy(a, b, w),
  record({ rec }, { a, b }, w) {
    const out = rec.tensor('f32', a.shape, 'synergy:out');
    rec.dispatch(spec, 'main', [a, b, out], grid(a.size, spec.workgroupSize), [u32(a.size), f32(w.both), f32(w.sam), f32(w.dino)]);
    return out;
  },
  reference: ({ a, b }, w) => new HostTensor('f32', a.shape, synergyReference(a.data, b.data, w)),
});
