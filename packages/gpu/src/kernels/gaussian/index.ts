/**
 * gaussian (kernels/gaussian.wgsl): separable Gaussian blur of B maps, edges replicated (the
 * weight-free encoders' multi-scale local statistics).
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid, type Recorder } from '../../runtime.ts';
import type { ImageShape } from '../../shapes.ts';
import { HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { gaussianRadius, gaussianReference, validateGaussian } from './reference.ts';

export * from './reference.ts';

export const gaussianSpec: KernelSpec = { name: 'gaussian', bindings: ['uniform', 'read', 'storage'], workgroupSize: 64 };

export interface GaussianParams extends ImageShape {
  sigma: number;
}

/** Records blur_x then blur_y of [B][H·W] maps. */
export function recordGaussian(rec: Recorder, maps: DeviceTensor, { B, H, W, sigma }: GaussianParams): DeviceTensor<'f32'> {
  const tmp = rec.tensor('f32', [B, H * W], 'gaussian:rows');
  const out = rec.tensor('f32', [B, H * W], 'gaussian:out');
  const params = [u32(H), u32(W), u32(B), u32(gaussianRadius(sigma)), f32(sigma), u32(0), u32(0), u32(0)];
  const g = grid(B * H * W, gaussianSpec.workgroupSize);
  rec.dispatch(gaussianSpec, 'blur_x', [maps, tmp], g, params);
  rec.dispatch(gaussianSpec, 'blur_y', [tmp, out], g, params);
  return out;
}

/** Maps [B][H·W] → blurred maps [B][H·W], radius ⌈3σ⌉. */
export const gaussian = defineKernel<{ maps: T<'f32'> }, GaussianParams, T<'f32'>>({
  name: 'gaussian',
  shaders: [gaussianSpec],
  validate: ({ maps }, s) => validateGaussian(maps, s, s.sigma),
  record: ({ rec }, { maps }, s) => recordGaussian(rec, maps, s),
  reference: ({ maps }, s) => new HostTensor('f32', [s.B, s.H * s.W], gaussianReference(maps.data, s, s.sigma)),
});
