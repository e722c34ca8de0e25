/**
 * moments (kernels/moments.wgsl): count, mean and population standard deviation (the Gaussian MLE
 * of CMSM's negatives) of the masked values of each of B rows, by the corrected two-pass algorithm.
 */
import { defineKernel, type RecordContext } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { momentsReference, validateMoments, type RowsShape } from './reference.ts';

export * from './reference.ts';

export const momentsSpec: KernelSpec = { name: 'moments', bindings: ['uniform', 'read', 'read', 'storage'], workgroupSize: 256 };

export interface MomentsParams extends RowsShape {
  /** Take the values where the mask is not set (a support's background). */
  invert?: boolean;
}

/** Records [B][3] (count, mean, std) of [B][N] values; every value where `mask` is null. */
export function recordMoments({ rec }: Pick<RecordContext, 'rec'>, values: DeviceTensor, mask: DeviceTensor | null, s: MomentsParams): DeviceTensor<'f32'> {
  const out = rec.tensor('f32', [s.B, 3], 'moments:out');
  const selection = mask ? (s.invert ? 2 : 1) : 0;
  rec.dispatch(momentsSpec, 'main', [values, mask ?? rec.scratch(4, 'moments:no-mask'), out], [s.B], [u32(s.N), u32(s.B), u32(selection), u32(0)]);
  return out;
}

/** Values [B][N] and an optional mask [B][N] → [B][3]: count, mean, std of each row's selected values. */
export const moments = defineKernel<{ values: T<'f32'>; mask: T<'mask'> | null }, MomentsParams, T<'f32'>>({
  name: 'moments',
  shaders: [momentsSpec],
  validate: ({ values, mask }, s) => validateMoments(values, mask, s),
  record: (ctx, { values, mask }, s) => recordMoments(ctx, values, mask, s),
  reference({ values, mask }, s) {
    const m = mask && (s.invert ? mask.data.map((v) => (v ? 0 : 1)) : mask.data);
    const stats = momentsReference(values.data, m, { B: s.B, N: s.N });
    return new HostTensor('f32', [s.B, 3], Float32Array.from(stats.flatMap((r) => [r.count, r.mean, r.std])));
  },
});
