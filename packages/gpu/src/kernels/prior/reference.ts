/** CPU reference of kernels/prior.wgsl: the fused confidence as a foreground probability. */
import { length, positiveInt, ShapeError, type Values } from '../../shapes.ts';

export function validatePrior(maps: Values, top: Values, mus: Values, B: number, P: number, sharpness: number): void {
  positiveInt('prior', 'B', B);
  positiveInt('prior', 'P', P);
  length('prior', 'maps', maps, B * P);
  length('prior', 'top', top, B * 3);
  length('prior', 'mus', mus, B);
  if (!(sharpness > 0) || !Number.isFinite(sharpness)) throw new ShapeError('prior', `the sharpness must be finite and > 0, got ${sharpness}`);
}

/**
 * prior = 1 / (1 + exp(−(v − mid) / scale)), mid = (μ + top) / 2, scale = max((top − μ) / sharpness,
 * 1e-6), where top is row b's mean of its top-ranked cells (`top` is the moments kernel's
 * [B][3] count, mean, std) and μ is row b's support μ (`mus`, one per row, or one for all). The
 * exponent is clamped to ±80, as in the kernel.
 */
export function priorReference(maps: Float32Array, top: Float32Array, B: number, P: number, mus: Float32Array | number, sharpness: number): Float32Array {
  const out = new Float32Array(B * P);
  for (let b = 0; b < B; b++) {
    const topMean = top[3 * b + 1]!;
    const mu = typeof mus === 'number' ? mus : mus[b]!;
    const mid = (mu + topMean) / 2;
    const scale = Math.max((topMean - mu) / sharpness, 1e-6);
    for (let i = b * P; i < (b + 1) * P; i++) {
      const z = Math.min(80, Math.max(-80, -(maps[i]! - mid) / scale));
      out[i] = 1 / (1 + Math.exp(z));
    }
  }
  return out;
}
