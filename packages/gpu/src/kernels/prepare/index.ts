/**
 * prepare (kernels/prepare.wgsl): a query volume's voxels, uploaded as the file's own integers
 * packed into u32 words, to slices in [0, 1] of the ROI's size: the in-plane region cut out,
 * clipped and scaled (the CT window or MR's percentile clip), then resized (resize.wgsl's
 * bilinear) where the region is not that size. The host's preparation (core's prepareVolume)
 * runs the same references, so both paths segment the same slices.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { resizeSpec, upsampleBilinear } from '../resize/index.ts';
import { prepareSlicesReference, validatePrepare, voxelView, VOXEL_FORMATS, type PrepareShape } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'prepare', bindings: ['uniform', 'read', 'storage'], workgroupSize: 64 };

/** Packed voxels [words] of an nx×ny×nz volume → [nz][outH·outW] slices in [0, 1]. */
export const prepareSlices = defineKernel<{ voxels: T<'u32'> }, PrepareShape, T<'f32'>>({
  name: 'prepareSlices',
  shaders: [spec, resizeSpec],
  validate: ({ voxels }, s) => validatePrepare(voxels, s),
  record(ctx, { voxels }, s) {
    const [x0, y0, w, h] = s.region;
    const count = s.nz * w * h;
    const region = ctx.rec.tensor('f32', [s.nz, w * h], 'prepare:region');
    const params = [
      u32(s.nx),
      u32(s.ny),
      u32(x0),
      u32(y0),
      u32(w),
      u32(h),
      u32(count),
      u32(VOXEL_FORMATS[s.format].code),
      f32(s.lo),
      f32(s.span),
      u32(0),
      u32(0),
    ];
    ctx.rec.dispatch(spec, 'normalise', [voxels, region], grid(count, spec.workgroupSize), params);
    if (w === s.outW && h === s.outH) return region;
    return upsampleBilinear.record(ctx, { maps: region }, { B: s.nz, inH: h, inW: w, outH: s.outH, outW: s.outW });
  },
  reference: ({ voxels }, s) =>
    new HostTensor('f32', [s.nz, s.outH * s.outW], prepareSlicesReference(voxelView({ format: s.format, words: voxels.data, count: s.nx * s.ny * s.nz }), s)),
});
