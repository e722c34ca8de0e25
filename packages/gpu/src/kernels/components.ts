/** GPU wrapper of kernels/components.wgsl. */
import { componentsFromRoots, validateComponents, type Components, type Connectivity } from '../reference/components.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import { u32 } from '../uniforms.ts';
import { maskToU32 } from './upload.ts';

export const componentsSpec: KernelSpec = {
  name: 'components',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

export interface ComponentBuffers {
  /** Per pixel, its component's root (first pixel, row-major) or 0xffffffff. */
  roots: Slot;
  /** Per root, the component's size. */
  sizes: Slot;
  /** Per root, the fixed-point sum as (lo, hi) u32 words. */
  sums: Slot;
  /** Per slice, max |value| over the foreground as f32 bits (the fixed-point scale). */
  maxAbs: Slot;
}

export function recordComponents(rec: Recorder, masks: Slot, values: Slot, { B, H, W }: ImageShape, connectivity: Connectivity): ComponentBuffers {
  const count = B * H * W;
  const roots = rec.scratch(count * 4, 'components:roots');
  const sizes = rec.scratch(count * 4, 'components:sizes', true);
  const sums = rec.scratch(count * 8, 'components:sums', true);
  const maxAbs = rec.scratch(B * 4, 'components:max-abs', true);
  const bindings = [masks, values, roots, sizes, sums, maxAbs];
  const params = [u32(H), u32(W), u32(B), u32(connectivity === 8 ? 1 : 0)];
  const g = grid(count, componentsSpec.workgroupSize);
  for (const entry of ['init', 'merge', 'compress', 'accumulate']) rec.dispatch(componentsSpec, entry, bindings, g, params);
  return { roots, sizes, sums, maxAbs };
}

const FIXED_ONE = 8388608; // 2^23, as in the kernel

/** Turns the (lo, hi) fixed-point words back into sums, with each slice's scale. */
export function decodeComponentSums(words: Uint32Array, maxAbsBits: Uint32Array, plane: number): Float64Array {
  const scale = new Float32Array(maxAbsBits.buffer.slice(maxAbsBits.byteOffset, maxAbsBits.byteOffset + maxAbsBits.byteLength));
  const sums = new Float64Array(words.length / 2);
  for (let t = 0; t < sums.length; t++) {
    const hi = words[2 * t + 1]! | 0; // signed high word
    sums[t] = ((hi * 4294967296 + words[2 * t]!) / FIXED_ONE) * scale[Math.floor(t / plane)]!;
  }
  return sums;
}

export async function componentsGpu(
  rt: GpuRuntime,
  masks: Uint8Array,
  values: Float32Array | null,
  shape: ImageShape,
  connectivity: Connectivity,
): Promise<Components[]> {
  validateComponents(masks, values, shape, connectivity);
  const plane = shape.H * shape.W;
  const rec = rt.recorder('components');
  const valueSlot = values ? rec.upload(values, 'components:values') : rec.scratch(shape.B * plane * 4, 'components:values', true);
  const out = recordComponents(rec, rec.upload(maskToU32(masks), 'components:mask'), valueSlot, shape, connectivity);
  const roots = rec.read(out.roots, Uint32Array);
  const sizes = rec.read(out.sizes, Uint32Array);
  const sums = rec.read(out.sums, Uint32Array);
  const maxAbs = rec.read(out.maxAbs, Uint32Array);
  await rec.submit();
  const decoded = decodeComponentSums(sums.value!, maxAbs.value!, plane);
  return Array.from({ length: shape.B }, (_, b) => componentsFromRoots(roots.value!, sizes.value!, decoded, plane, b * plane));
}
