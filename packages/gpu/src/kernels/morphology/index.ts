/** morphology (kernels/morphology.wgsl): binary erosion or dilation of B masks (NRM's opening is one then the other). */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import type { ImageShape } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { morphologyReference, validateMorphology, type MorphologyOp, type StructuringElement } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'morphology', bindings: ['uniform', 'read', 'storage'], workgroupSize: 64 };

export interface MorphologyParams extends ImageShape {
  op: MorphologyOp;
  element: StructuringElement;
}

/** Masks [B][H·W] → eroded or dilated masks [B][H·W]; outside the image is background. */
export const morphology = defineKernel<{ masks: T<'mask'> }, MorphologyParams, T<'mask'>>({
  name: 'morphology',
  shaders: [spec],
  validate: ({ masks }, s) => validateMorphology(masks, s, s.element),
  record({ rec }, { masks }, { B, H, W, op, element }) {
    const out = rec.tensor('mask', [B, H * W], `morphology:${op}`);
    const params = [u32(H), u32(W), u32(B), u32(element.radius), u32(element.shape === 'disc' ? 1 : 0), u32(op === 'dilate' ? 1 : 0), u32(0), u32(0)];
    rec.dispatch(spec, 'main', [masks, out], grid(B * H * W, spec.workgroupSize), params);
    return out;
  },
  reference: ({ masks }, s) => new HostTensor('mask', [s.B, s.H * s.W], morphologyReference(masks.data, s, s.op, s.element)),
});
