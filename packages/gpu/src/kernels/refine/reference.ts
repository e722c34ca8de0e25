/**
 * CPU references of kernels/refine.wgsl, NRM's mask steps around the morphology and components
 * kernels: thresholding, the best component by mean value, row flags, byte packing.
 */
import { NO_COMPONENT as NONE, type Components } from '../components/reference.ts';

/** value > t, as 0/1. */
export function thresholdReference(values: Float32Array, t: number): Uint8Array {
  const out = new Uint8Array(values.length);
  const tf = Math.fround(t);
  for (let i = 0; i < values.length; i++) out[i] = values[i]! > tf ? 1 : 0;
  return out;
}

/**
 * NRM's choice on the CPU path: per slice, the mask of the component with the best mean value
 * (the first in row-major order among equals), and whether the slice had any component.
 */
export function bestComponentMaskReference(components: readonly Components[], plane: number): { masks: Uint8Array; found: Uint8Array } {
  const masks = new Uint8Array(components.length * plane);
  const found = new Uint8Array(components.length);
  components.forEach(({ labels, components: list }, b) => {
    if (list.length === 0) return;
    const best = list.reduce((a, c) => (c.mean > a.mean ? c : a));
    found[b] = 1;
    for (let i = 0; i < plane; i++) if (labels[i] === best.label) masks[b * plane + i] = 1;
  });
  return { masks, found };
}

/**
 * The kernel's `best_component` on the components kernel's raw output (roots per pixel, sizes
 * and fixed-point (lo, hi) sums by root): per row the best root or 0xffffffff, comparing means
 * as sum_a·size_b > sum_b·size_a in f32 exactly as the kernel does, ties to the smaller root.
 */
export function bestRootsReference(roots: Uint32Array, sizes: Uint32Array, words: Uint32Array, B: number, P: number): Uint32Array {
  const best = new Uint32Array(B).fill(NONE);
  for (let b = 0; b < B; b++) {
    let s = 0;
    let n = 0;
    let r = NONE;
    for (let i = 0; i < P; i++) {
      const t = b * P + i;
      if (roots[t] !== i) continue;
      const si = Math.fround(Math.fround(Math.fround(words[2 * t + 1]! | 0) * 4294967296) + Math.fround(words[2 * t]!));
      const ni = Math.fround(sizes[t]!);
      const beats = r === NONE || Math.fround(si * n) > Math.fround(s * ni) || (Math.fround(si * n) === Math.fround(s * ni) && i < r);
      if (beats) {
        s = si;
        n = ni;
        r = i;
      }
    }
    best[b] = r;
  }
  return best;
}

/** mask where its row's flag is set (a best root, not 0xffffffff), else 0. */
export function keepRowsReference(masks: Uint8Array, flags: ArrayLike<number>, P: number, none = NONE): Uint8Array {
  return masks.map((v, t) => (flags[Math.floor(t / P)] !== none ? v : 0));
}

/** Values 0…255, four per little-endian u32 word. */
export function packBytesReference(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 4));
  for (let t = 0; t < values.length; t++) out[t >> 2]! |= (values[t]! & 0xff) << (8 * (t & 3));
  return out;
}

/** CPU reference of refine.wgsl `pack_bits`: bit k of word w is set where value 32·w + k is not 0. */
export function packBitsReference(values: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.ceil(values.length / 32));
  for (let t = 0; t < values.length; t++) if (values[t]) out[t >> 5]! |= 1 << (t & 31);
  return out;
}

/** The inverse of `packBitsReference`: `count` 0/1 values. */
export function unpackBits(words: Uint32Array, count: number): Uint8Array {
  const out = new Uint8Array(count);
  for (let t = 0; t < count; t++) out[t] = (words[t >> 5]! >>> (t & 31)) & 1;
  return out;
}
