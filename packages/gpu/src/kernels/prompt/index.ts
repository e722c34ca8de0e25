/**
 * prompt (kernels/prompt.wgsl): the weight-free decoder's inputs, built on the device from its
 * prompt rows: the slice and the prior shrunk to the decoder's grid, and the seeds (background
 * where the prior is low and outside the box, discs at the points).
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { imageShape, length, positiveInt, ShapeError, type ImageShape } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { SEED_BACKGROUND, SEED_FOREGROUND } from '../random-walker/reference.ts';
import { seedMapReference, shrinkInputsReference, type DecoderInputOptions } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'prompt',
  bindings: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { FOREGROUND: SEED_FOREGROUND, BACKGROUND: SEED_BACKGROUND },
};

export interface DecoderInputParams extends ImageShape, DecoderInputOptions {
  /** Points per prompt row (after the box). */
  P: number;
}

/**
 * ROI slices [B][H·W], an optional prior [B][H·W] and mask prompt [B][H·W], and prompt rows
 * [B][1 + P][4] → the shrunk slice, the shrunk (blended) prior and the seeds, each [B][h·w].
 */
export const decoderInputs = defineKernel<
  { image: T<'f32'>; prior: T<'f32'> | null; maskPrompt: T<'mask'> | null; prompts: T<'f32'> },
  DecoderInputParams,
  { image: T<'f32'>; prior: T<'f32'>; seeds: T<'mask'> }
>({
  name: 'decoderInputs',
  shaders: [spec],
  validate({ image, prior, maskPrompt, prompts }, o) {
    imageShape('prompt', o);
    positiveInt('prompt', 'factor', o.factor);
    if (o.H % o.factor || o.W % o.factor) throw new ShapeError('prompt', `the factor ${o.factor} must divide ${o.H}×${o.W}`);
    if (!Number.isInteger(o.P) || o.P < 0) throw new ShapeError('prompt', `P must be a non-negative integer, got ${o.P}`);
    const n = o.B * o.H * o.W;
    length('prompt', 'image', image, n);
    if (prior) length('prompt', 'prior', prior, n);
    if (maskPrompt) length('prompt', 'mask prompt', maskPrompt, n);
    length('prompt', 'prompts', prompts, o.B * (1 + o.P) * 4);
  },
  record({ rec }, { image, prior, maskPrompt, prompts }, o) {
    const plane = (o.H / o.factor) * (o.W / o.factor);
    const small = rec.tensor('f32', [o.B, plane], 'prompt:image');
    const smallPrior = rec.tensor('f32', [o.B, plane], 'prompt:prior');
    const seeds = rec.tensor('mask', [o.B, plane], 'prompt:seeds');
    const unused = rec.scratch(4, 'prompt:unused');
    const bindings = [image, prior ?? unused, maskPrompt ?? unused, prompts, small, smallPrior, seeds];
    const params = [
      ...[u32(o.H), u32(o.W), u32(o.B), u32(o.factor), u32(o.P), u32(o.radius), u32(prior ? 1 : 0), u32(maskPrompt ? 1 : 0)],
      ...[f32(o.maskWeight), f32(o.background), u32(0), u32(0)],
    ];
    const g = grid(o.B * plane, spec.workgroupSize);
    rec.dispatch(spec, 'shrink_inputs', bindings, g, params);
    rec.dispatch(spec, 'seed_map', bindings, g, params);
    return { image: small, prior: smallPrior, seeds };
  },
  reference({ image, prior, maskPrompt, prompts }, o) {
    const small = shrinkInputsReference(image.data, prior && prior.data, maskPrompt && maskPrompt.data, o, o);
    const seeds = seedMapReference(small.prior, prompts.data, o, o.P, o, Boolean(prior || maskPrompt));
    const shape = [o.B, (o.H / o.factor) * (o.W / o.factor)];
    return { image: new HostTensor('f32', shape, small.image), prior: new HostTensor('f32', shape, small.prior), seeds: new HostTensor('mask', shape, seeds) };
  },
});
