/** GPU wrapper of kernels/prompt.wgsl: the weight-free decoder's inputs, built on the device. */
import type { DecoderInputOptions } from '../reference/prompt.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const promptSpec: KernelSpec = {
  name: 'prompt',
  bindings: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

/**
 * From ROI slices ([B][H·W]), an optional prior and mask prompt, and `prompts` ([B][1 + P] vec4:
 * the box, then the points): the shrunk slice, the shrunk (blended) prior and the seeds.
 */
export function recordDecoderInputs(
  rec: Recorder,
  image: Slot,
  prior: Slot | null,
  maskPrompt: Slot | null,
  prompts: Slot,
  s: ImageShape,
  P: number,
  o: DecoderInputOptions,
): { image: DeviceTensor; prior: DeviceTensor; seeds: DeviceTensor } {
  const plane = (s.H / o.factor) * (s.W / o.factor);
  const small = rec.scratch(s.B * plane * 4, 'prompt:image', false, 'f32', [s.B, plane]);
  const smallPrior = rec.scratch(s.B * plane * 4, 'prompt:prior', false, 'f32', [s.B, plane]);
  const seeds = rec.scratch(s.B * plane * 4, 'prompt:seeds', false, 'mask', [s.B, plane]);
  const unused = rec.scratch(4, 'prompt:unused');
  const bindings = [image, prior ?? unused, maskPrompt ?? unused, prompts, small, smallPrior, seeds];
  const params = [
    u32(s.H),
    u32(s.W),
    u32(s.B),
    u32(o.factor),
    u32(P),
    u32(o.radius),
    u32(prior ? 1 : 0),
    u32(maskPrompt ? 1 : 0),
    f32(o.maskWeight),
    f32(o.background),
    u32(0),
    u32(0),
  ];
  const g = grid(s.B * plane, promptSpec.workgroupSize);
  rec.dispatch(promptSpec, 'shrink_inputs', bindings, g, params);
  rec.dispatch(promptSpec, 'seed_map', bindings, g, params);
  return { image: small, prior: smallPrior, seeds };
}
