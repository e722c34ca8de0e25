/** GPU wrapper of kernels/prior.wgsl: the fused confidence as the decoder's prior. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const priorSpec: KernelSpec = {
  name: 'prior',
  bindings: ['uniform', 'read', 'read', 'read', 'storage'],
  workgroupSize: 64,
};

/**
 * [B][P] maps → [B][P] probabilities; `top` is the moments kernel's [B][3] of each row's top
 * cells, `mus` [B] each row's support μ (rows of one batch may come from different supports).
 */
export function recordPrior(rec: Recorder, maps: Slot, top: Slot, mus: Slot, { B, P }: { B: number; P: number }, sharpness: number): DeviceTensor {
  const out = rec.scratch(B * P * 4, 'prior:out', false, 'f32', [B, P]);
  rec.dispatch(priorSpec, 'logistic', [maps, top, mus, out], grid(B * P, priorSpec.workgroupSize), [u32(P), u32(B), f32(sharpness), u32(0)]);
  return out;
}
