/**
 * guide (kernels/guide.wgsl): a neighbouring slice's mask as a spatial guide for the fused
 * confidence (the propagation pass along a query volume): pooled onto the grid, then a penalty.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import { length } from '../../shapes.ts';
import { HostTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { guidePenaltyReference, poolMaskReference, validateGuidePenalty, validateGuideShape, type GuideShape } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'guide', bindings: ['uniform', 'read', 'read', 'read', 'storage', 'read'], workgroupSize: 256 };

/**
 * Masks [B][H][W] → [B][G·G]: the fraction of set pixels per cell; with `and` (masks of the same
 * shape, or null), of the pixels set in both.
 */
export const poolMask = defineKernel<{ masks: T<'mask'>; and: T<'mask'> | null }, GuideShape, T<'f32'>>({
  name: 'poolMask',
  shaders: [spec],
  validate({ masks, and }, s) {
    validateGuideShape(s);
    length('guide', 'masks', masks, s.B * s.H * s.W);
    if (and) length('guide', 'and', and, s.B * s.H * s.W);
  },
  record({ rec }, { masks, and }, s) {
    const out = rec.tensor('f32', [s.B, s.G * s.G], 'guide:pooled');
    const unused = rec.scratch(4, 'guide:unused');
    const params = [u32(s.H), u32(s.W), u32(s.G), u32(s.B), f32(0), u32(0), u32(and ? 1 : 0), u32(0)];
    rec.dispatch(spec, 'pool', [masks, unused, unused, out, and ?? unused], grid(s.B * s.G * s.G, spec.workgroupSize), params);
    return out;
  },
  reference: ({ masks, and }, s) => new HostTensor('f32', [s.B, s.G * s.G], poolMaskReference(masks.data, s, and?.data ?? null)),
});

export interface GuidePenaltyParams {
  B: number;
  N: number;
  /** The penalty's weight w. */
  weight: number;
  /** The share c of the guide's peak from which on nothing is taken (default 1: only at the peak). */
  plateau?: number;
}

/** Per row of maps [B][N] and guides [B][N]: maps − w·(1 − min(1, guide / (c·max(guide)))); rows with an empty guide unchanged. */
export const guidePenalty = defineKernel<{ maps: T<'f32'>; guide: T<'f32'> }, GuidePenaltyParams, T<'f32'>>({
  name: 'guidePenalty',
  shaders: [spec],
  validate: ({ maps, guide }, { B, N, weight, plateau = 1 }) => validateGuidePenalty(maps, guide, B, N, weight, plateau),
  record({ rec }, { maps, guide }, { B, N, weight, plateau = 1 }) {
    const out = rec.tensor('f32', [B, N], 'guide:out');
    const unused = rec.scratch(4, 'guide:unused');
    rec.dispatch(spec, 'penalise', [unused, maps, guide, out, unused], [B], [u32(N), u32(1), u32(1), u32(B), f32(weight), f32(plateau), u32(0), u32(0)]);
    return out;
  },
  reference: ({ maps, guide }, { B, N, weight, plateau = 1 }) =>
    new HostTensor('f32', [B, N], guidePenaltyReference(maps.data, guide.data, B, N, weight, plateau)),
});
