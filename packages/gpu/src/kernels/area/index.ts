/**
 * area (kernels/area.wgsl): a decoder's foreground probabilities to a mask whose area follows a
 * target (the support organ's area: a shape prior that needs no training), the threshold read
 * from a histogram and clamped to a range.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { AREA_BINS, areaThresholdReference, validateAreaThreshold, type AreaThresholdOptions } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'area', bindings: ['uniform', 'read', 'read', 'storage'], workgroupSize: 256, constants: { NB: AREA_BINS } };

export interface AreaThresholdParams extends AreaThresholdOptions {
  B: number;
  P: number;
}

/** Values [B][P] and target areas [B] (pixels) → masks [B][P]; one workgroup per row. */
export const areaThreshold = defineKernel<{ values: T<'f32'>; targets: T<'f32'> }, AreaThresholdParams, T<'mask'>>({
  name: 'areaThreshold',
  shaders: [spec],
  validate: ({ values, targets }, o) => validateAreaThreshold(values, targets, o.B, o.P, o),
  record({ rec }, { values, targets }, o) {
    const out = rec.tensor('mask', [o.B, o.P], 'area:mask');
    rec.dispatch(spec, 'area', [values, targets, out], [o.B], [u32(o.P), u32(o.B), f32(o.lo), f32(o.hi), f32(o.fallback), u32(0), u32(0), u32(0)]);
    return out;
  },
  reference: ({ values, targets }, o) => new HostTensor('mask', [o.B, o.P], areaThresholdReference(values.data, targets.data, o.B, o.P, o)),
});
