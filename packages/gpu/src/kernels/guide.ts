/** GPU wrappers of kernels/guide.wgsl: a neighbouring slice's mask as a guide for the fused confidence. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GuideShape } from '../reference/guide.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const guideSpec: KernelSpec = {
  name: 'guide',
  bindings: ['uniform', 'read', 'read', 'read', 'storage'],
  workgroupSize: 256,
};

const params = (s: GuideShape, w = 0) => [u32(s.H), u32(s.W), u32(s.G), u32(s.B), f32(w), u32(0), u32(0), u32(0)];

/** [B][H][W] masks → [B][G·G] fractions of set pixels per cell. */
export function recordPoolMask(rec: Recorder, masks: Slot, s: GuideShape): DeviceTensor {
  const out = rec.scratch(s.B * s.G * s.G * 4, 'guide:pooled', false, 'f32', [s.B, s.G * s.G]);
  const unused = rec.scratch(4, 'guide:unused');
  rec.dispatch(guideSpec, 'pool', [masks, unused, unused, out], grid(s.B * s.G * s.G, guideSpec.workgroupSize), params(s));
  return out;
}

/** [B][N] synmap, [B][N] guide → synmap − w·(1 − g / max g) per row (unchanged where the guide is empty). */
export function recordGuidePenalty(rec: Recorder, maps: Slot, guide: Slot, { B, N }: { B: number; N: number }, w: number): DeviceTensor {
  const out = rec.scratch(B * N * 4, 'guide:out', false, 'f32', [B, N]);
  const unused = rec.scratch(4, 'guide:unused');
  rec.dispatch(guideSpec, 'penalise', [unused, maps, guide, out], [B], [u32(N), u32(1), u32(1), u32(B), f32(w), u32(0), u32(0), u32(0)]);
  return out;
}
