/**
 * resize (kernels/resize.wgsl): bilinear upsampling of B maps (the 64×64 confidence grid to the
 * 256×256 slice) and area downsampling of B masks (the 256×256 support mask to the 64×64 grid).
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32, type UniformField } from '../../uniforms.ts';
import { recordMaskToF32, refineSpec } from '../refine/index.ts';
import { downsampleMaskReference, upsampleBilinearReference, validateDownsampleMask, validateUpsample, type ResizeShape } from './reference.ts';

export * from './reference.ts';

export const resizeSpec: KernelSpec = { name: 'resize', bindings: ['uniform', 'read', 'storage', 'storage', 'storage'], workgroupSize: 64 };

const params = (s: ResizeShape): UniformField[] => [u32(s.B), u32(s.inH), u32(s.inW), u32(s.outH), u32(s.outW), u32(0), u32(0), u32(0)];

/** Maps [B][inH·inW] → [B][outH·outW]; half-pixel centres, edges clamped (align_corners = false). */
export const upsampleBilinear = defineKernel<{ maps: T<'f32'> }, ResizeShape, T<'f32'>>({
  name: 'upsampleBilinear',
  shaders: [resizeSpec],
  validate: ({ maps }, s) => validateUpsample(maps, s),
  record({ rec }, { maps }, s) {
    const out = rec.tensor('f32', [s.B, s.outH * s.outW], 'resize:upsampled');
    // The mask-only bindings are unused by this entry point; tiny placeholders fill the layout.
    const unused = [rec.scratch(4, 'resize:unused'), rec.scratch(4, 'resize:unused')];
    rec.dispatch(resizeSpec, 'upsample_bilinear', [maps, out, ...unused], grid(s.B * s.outH * s.outW, resizeSpec.workgroupSize), params(s));
    return out;
  },
  reference: ({ maps }, s) => new HostTensor('f32', [s.B, s.outH * s.outW], upsampleBilinearReference(maps.data, s)),
});

/**
 * Masks [B][inH·inW] → [B][outH·outW] by integer factors: a cell is set where half its pixels are,
 * or, in a mask where no cell reaches half, where any is (a thin organ must not vanish).
 */
export const downsampleMask = defineKernel<{ masks: T<'mask'> }, ResizeShape, T<'mask'>>({
  name: 'downsampleMask',
  shaders: [resizeSpec, refineSpec],
  validate: ({ masks }, s) => validateDownsampleMask(masks, s),
  record({ rec }, { masks }, s) {
    const count = s.B * s.outH * s.outW;
    const values = recordMaskToF32(rec, masks); // the resize kernel reads masks as f32 0/1
    const fractions = rec.tensor('f32', [count], 'resize:fractions');
    const cells = rec.tensor('mask', [s.B, s.outH * s.outW], 'resize:cells');
    const anyHalf = rec.tensor('u32', [s.B], 'resize:any-half', true);
    rec.dispatch(resizeSpec, 'mask_area_fraction', [values, fractions, cells, anyHalf], grid(count, resizeSpec.workgroupSize), params(s));
    rec.dispatch(resizeSpec, 'mask_threshold', [values, fractions, cells, anyHalf], grid(count, resizeSpec.workgroupSize), params(s));
    return cells;
  },
  reference: ({ masks }, s) => new HostTensor('mask', [s.B, s.outH * s.outW], downsampleMaskReference(masks.data, s)),
});
