/**
 * CPU reference of kernels/prompt.wgsl: the weight-free decoder's inputs from the prompt points.
 */
import type { ImageShape } from '../../shapes.ts';
import { SEED_BACKGROUND, SEED_FOREGROUND } from '../random-walker/reference.ts';

export interface DecoderInputOptions {
  /** Area factor from the ROI to the decoder's grid. */
  factor: number;
  /** Weight of the mask prompt in the prior. */
  maskWeight: number;
  /** Pixels whose prior is below this are background seeds. */
  background: number;
  /** Seed disc radius, in decoder pixels. */
  radius: number;
}

/**
 * The slice and the prior area-averaged by `factor`; with a mask prompt the prior becomes
 * (1 − w)·prior + w·mask. No prior: 0.5 everywhere.
 */
export function shrinkInputsReference(
  image: Float32Array,
  prior: Float32Array | null,
  mask: Uint8Array | null,
  s: ImageShape,
  o: Pick<DecoderInputOptions, 'factor' | 'maskWeight'>,
): { image: Float32Array; prior: Float32Array } {
  const f = o.factor;
  const h = s.H / f;
  const w = s.W / f;
  const smallImage = new Float32Array(s.B * h * w);
  const smallPrior = new Float32Array(s.B * h * w);
  const n = f * f;
  for (let b = 0; b < s.B; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let img = 0;
        let pri = 0;
        let msk = 0;
        for (let dy = 0; dy < f; dy++) {
          for (let dx = 0; dx < f; dx++) {
            const i = (b * s.H + y * f + dy) * s.W + x * f + dx;
            img += image[i]!;
            if (prior) pri += prior[i]!;
            if (mask) msk += mask[i]!;
          }
        }
        const t = (b * h + y) * w + x;
        smallImage[t] = img / n;
        let q = prior ? Math.fround(pri / n) : 0.5;
        if (mask) q = (1 - o.maskWeight) * q + o.maskWeight * (msk / n);
        smallPrior[t] = q;
      }
    }
  }
  return { image: smallImage, prior: smallPrior };
}

/**
 * Seeds on the decoder's grid ([B][h·w], h = H / factor): background where the prior is below
 * `background` (when there is a prior or a mask prompt), background outside the row's box, then a
 * disc at every valid point in order (a later point overrides). `prompts` is [B][1 + P][4]: the
 * box (x0, x1, y0, y1 in ROI pixels; x0 > x1: none), then (x, y, label, valid) per point.
 */
export function seedMapReference(
  smallPrior: Float32Array,
  prompts: Float32Array,
  s: ImageShape,
  P: number,
  o: Omit<DecoderInputOptions, 'maskWeight'>,
  usePrior: boolean,
): Uint8Array {
  const f = o.factor;
  const h = s.H / f;
  const w = s.W / f;
  const seeds = new Uint8Array(s.B * h * w);
  const bg = Math.fround(o.background);
  const r2 = o.radius * o.radius;
  const reach = Math.floor(o.radius);
  for (let b = 0; b < s.B; b++) {
    const row = b * (1 + P) * 4;
    const [x0, x1, y0, y1] = [prompts[row]!, prompts[row + 1]!, prompts[row + 2]!, prompts[row + 3]!];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const t = (b * h + y) * w + x;
        let seed = 0;
        if (usePrior && smallPrior[t]! < bg) seed = SEED_BACKGROUND;
        if (x0 <= x1) {
          const X = (x + 0.5) * f;
          const Y = (y + 0.5) * f;
          if (X < x0 || X > x1 || Y < y0 || Y > y1) seed = SEED_BACKGROUND;
        }
        seeds[t] = seed;
      }
    }
    // The discs, painted in point order over the pixels they can reach: a later point overrides,
    // as the kernel's per-pixel loop over the points decides.
    for (let k = 0; k < P; k++) {
      const q = row + 4 * (1 + k);
      if (prompts[q + 3] === 0) continue;
      const cx = Math.floor(prompts[q]! / f);
      const cy = Math.floor(prompts[q + 1]! / f);
      const label = prompts[q + 2] === 1 ? SEED_FOREGROUND : SEED_BACKGROUND;
      for (let y = Math.max(0, cy - reach); y <= Math.min(h - 1, cy + reach); y++) {
        for (let x = Math.max(0, cx - reach); x <= Math.min(w - 1, cx + reach); x++) {
          const dx = x - cx;
          const dy = y - cy;
          if (dx * dx + dy * dy <= r2) seeds[(b * h + y) * w + x] = label;
        }
      }
    }
  }
  return seeds;
}
