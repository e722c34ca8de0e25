/** GPU wrappers of kernels/refine.wgsl: NRM's mask steps on the device. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';
import type { ComponentBuffers } from './components.ts';

export const refineSpec: KernelSpec = {
  name: 'refine',
  bindings: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
};

const params = (B: number, P: number, t = 0) => [u32(P), u32(B), f32(t), u32(0)];

/** Fillers for the bindings an entry point does not use: one read-only, one writable (never the same buffer). */
const placeholders = (rec: Recorder) => [rec.scratch(4, 'refine:unused'), rec.scratch(4, 'refine:unused-out')] as const;

/** value > t → a u32 0/1 mask. */
export function recordThreshold(rec: Recorder, values: Slot, { B, P }: { B: number; P: number }, t: number): DeviceTensor {
  const out = rec.scratch(B * P * 4, 'refine:mask', false, 'mask', [B, P]);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'threshold', [values, u, u, u, out, w], grid(B * P, refineSpec.workgroupSize), params(B, P, t));
  return out;
}

/**
 * The component with the best mean value per row, as a mask, and the rows' best roots
 * ([B] u32, 0xffffffff where a row has no component).
 */
export function recordBestComponent(rec: Recorder, c: ComponentBuffers, { B, P }: { B: number; P: number }): { mask: DeviceTensor; best: DeviceTensor } {
  const best = rec.scratch(B * 4, 'refine:best', false, 'u32', [B]);
  const mask = rec.scratch(B * P * 4, 'refine:mask', false, 'mask', [B, P]);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'best_component', [u, c.roots, c.sizes, c.sums, w, best], [B], params(B, P));
  rec.dispatch(refineSpec, 'select_component', [u, c.roots, u, u, mask, best], grid(B * P, refineSpec.workgroupSize), params(B, P));
  return { mask, best };
}

/** `masks` where the row's flag (a best root) is set, else cleared. */
export function recordKeepRows(rec: Recorder, masks: Slot, flags: Slot, { B, P }: { B: number; P: number }): DeviceTensor {
  const out = rec.scratch(B * P * 4, 'refine:kept', false, 'mask', [B, P]);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'keep_rows', [u, masks, flags, u, out, w], grid(B * P, refineSpec.workgroupSize), params(B, P));
  return out;
}

/** Values 0…255 (one u32 each) packed four to a word, for a readback a quarter the size. */
export function recordPack(rec: Recorder, values: Slot, count: number): DeviceTensor {
  const words = Math.ceil(count / 4);
  const out = rec.scratch(words * 4, 'refine:packed', false, 'u32', [words]);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'pack', [u, values, u, u, out, w], grid(words, refineSpec.workgroupSize), params(1, count));
  return out;
}

/** Masks (u32) as bits, 32 to a word (bit k of word w: value 32·w + k is not 0): the smallest readback. */
export function recordPackBits(rec: Recorder, values: Slot, count: number): DeviceTensor {
  const words = Math.ceil(count / 32);
  const out = rec.scratch(words * 4, 'refine:bits', false, 'u32', [words]);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'pack_bits', [u, values, u, u, out, w], grid(words, refineSpec.workgroupSize), params(1, count));
  return out;
}

/** A 0/1 mask (u32) as f32 0/1 for kernels that read masks as values (the mask resize). */
export function recordMaskToF32(rec: Recorder, masks: DeviceTensor): DeviceTensor {
  const out = rec.scratch(masks.size * 4, 'refine:mask-f32', false, 'f32', masks.shape);
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'mask_to_f32', [u, masks, u, u, out, w], grid(masks.size, refineSpec.workgroupSize), params(1, masks.size));
  return out;
}
