/**
 * prior (kernels/prior.wgsl): the fused confidence as the weight-free decoder's foreground
 * probability, a logistic centred between each row's support μ and the mean of its top cells.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { priorReference, validatePrior } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'prior', bindings: ['uniform', 'read', 'read', 'read', 'storage'], workgroupSize: 64 };

export interface PriorParams {
  B: number;
  P: number;
  sharpness: number;
}

/**
 * Maps [B][P], `top` [B][3] (the moments of each row's top cells) and `mus` [B] (each row's
 * support μ: rows of one batch may come from different supports) → probabilities [B][P].
 */
export const prior = defineKernel<{ maps: T<'f32'>; top: T<'f32'>; mus: T<'f32'> }, PriorParams, T<'f32'>>({
  name: 'prior',
  shaders: [spec],
  validate: ({ maps, top, mus }, { B, P, sharpness }) => validatePrior(maps, top, mus, B, P, sharpness),
  record({ rec }, { maps, top, mus }, { B, P, sharpness }) {
    const out = rec.tensor('f32', [B, P], 'prior:out');
    rec.dispatch(spec, 'logistic', [maps, top, mus, out], grid(B * P, spec.workgroupSize), [u32(P), u32(B), f32(sharpness), u32(0)]);
    return out;
  },
  reference: ({ maps, top, mus }, { B, P, sharpness }) => new HostTensor('f32', [B, P], priorReference(maps.data, top.data, B, P, mus.data, sharpness)),
});
