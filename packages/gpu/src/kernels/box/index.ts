/**
 * box (kernels/box.wgsl): the weight-free decoder's prompt rows, built on the device from PSM's
 * k-means centres (the box that bounds the walk, then the negatives and the positives), so no
 * point visits the host between point selection and the decoder.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { length } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { promptRowsReference, validatePromptRows, type PromptRowsOptions, type PromptRowsShape } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'box', bindings: ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage'], workgroupSize: 64 };

export type PromptRowsParams = PromptRowsShape & PromptRowsOptions;

/**
 * k-means centres and sizes of the positives ([B][Kp][2], [B][Kp]) and the negatives ([B][Kn][2],
 * [B][Kn]; null when Kn = 0), and each row's support-organ extent ([B][2], or null) → prompt rows
 * [B][1 + Kn + Kp][4].
 */
export const promptRows = defineKernel<
  { posCentroids: T<'f32'>; posSizes: T<'u32'>; negCentroids: T<'f32'> | null; negSizes: T<'u32'> | null; extents: T<'f32'> | null },
  PromptRowsParams,
  T<'f32'>
>({
  name: 'promptRows',
  shaders: [spec],
  validate({ posCentroids, posSizes, negCentroids, negSizes, extents }, p) {
    validatePromptRows(p, p);
    length('box', 'positive centres', posCentroids, p.B * p.Kp * 2);
    length('box', 'positive sizes', posSizes, p.B * p.Kp);
    if (p.Kn > 0) {
      length('box', 'negative centres', negCentroids ?? [], p.B * p.Kn * 2);
      length('box', 'negative sizes', negSizes ?? [], p.B * p.Kn);
    }
    if (extents) length('box', 'extents', extents, p.B * 2);
  },
  record({ rec }, { posCentroids, posSizes, negCentroids, negSizes, extents }, p) {
    const out = rec.tensor('f32', [p.B, 1 + p.Kn + p.Kp, 4], 'box:rows');
    const unused = rec.scratch(8, 'box:unused');
    const params = [u32(p.B), u32(p.Kp), u32(p.Kn), u32(extents ? 1 : 0), f32(p.cell), f32(p.margin), f32(p.marginFactor), f32(p.extentFactor)];
    const bindings = [posCentroids, posSizes, negCentroids ?? unused, negSizes ?? unused, extents ?? unused, out];
    rec.dispatch(spec, 'rows', bindings, grid(p.B, spec.workgroupSize), params);
    return out;
  },
  reference: ({ posCentroids, posSizes, negCentroids, negSizes, extents }, p) =>
    new HostTensor(
      'f32',
      [p.B, 1 + p.Kn + p.Kp, 4],
      promptRowsReference(posCentroids.data, posSizes.data, negCentroids && negCentroids.data, negSizes && negSizes.data, extents && extents.data, p, p),
    ),
});
