/** GPU wrappers of kernels/guide.wgsl: a neighbouring slice's mask as a guide for the fused confidence. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GuideShape } from '../reference/guide.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const guideSpec: KernelSpec = {
  name: 'guide',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'read', 'storage'],
  workgroupSize: 256,
};

/** Fillers for the bindings an entry point does not use: one read-only, one writable. */
const placeholders = (rec: Recorder) => [rec.scratch(4, 'guide:unused'), rec.scratch(4, 'guide:unused-out')] as const;

const params = (s: GuideShape, w = 0) => [u32(s.H), u32(s.W), u32(s.G), u32(s.B), f32(w), u32(0), u32(0), u32(0)];

/** [B][H][W] masks → [B][G·G] fractions of set pixels per cell. */
export function recordPoolMask(rec: Recorder, masks: Slot, s: GuideShape): DeviceTensor {
  const out = rec.scratch(s.B * s.G * s.G * 4, 'guide:pooled', false, 'f32', [s.B, s.G * s.G]);
  const [u, w] = placeholders(rec);
  rec.dispatch(guideSpec, 'pool', [masks, u, u, out, u, w], grid(s.B * s.G * s.G, guideSpec.workgroupSize), params(s));
  return out;
}

/** [B][N] synmap, [B][N] guide → synmap − w·(1 − g / max g) per row (unchanged where the guide is empty). */
export function recordGuidePenalty(rec: Recorder, maps: Slot, guide: Slot, { B, N }: { B: number; N: number }, w: number): DeviceTensor {
  const out = rec.scratch(B * N * 4, 'guide:out', false, 'f32', [B, N]);
  const [u, v] = placeholders(rec);
  rec.dispatch(guideSpec, 'penalise', [u, maps, guide, out, u, v], [B], [u32(N), u32(1), u32(1), u32(B), f32(w), u32(0), u32(0), u32(0)]);
  return out;
}

/**
 * Per row: `masks` where the row's guide ([B][G·G], pooled) is non-empty, else `previous`
 * (both [B][H·W] u32 masks). One workgroup per row.
 */
export function recordKeepGuided(rec: Recorder, masks: Slot, previous: Slot, guide: Slot, s: GuideShape): DeviceTensor {
  const out = rec.scratch(s.B * s.H * s.W * 4, 'guide:kept', false, 'mask', [s.B, s.H * s.W]);
  const [u, w] = placeholders(rec);
  rec.dispatch(guideSpec, 'keep', [masks, u, guide, w, previous, out], [s.B], params(s));
  return out;
}
