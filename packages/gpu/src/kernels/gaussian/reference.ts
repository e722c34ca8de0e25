/** CPU reference of kernels/gaussian.wgsl: separable Gaussian blur, edges replicated. */
import { finite, imageShape, length, ShapeError, type ImageShape, type Values } from '../../shapes.ts';
import { scratch } from '../../scratch.ts';

/** The kernel's radius for σ: 3σ, rounded up, at least 1. */
export function gaussianRadius(sigma: number): number {
  return Math.max(1, Math.ceil(3 * sigma));
}

export function validateGaussian(maps: Values, s: ImageShape, sigma: number): void {
  imageShape('gaussian', s);
  length('gaussian', 'maps', maps, s.B * s.H * s.W);
  if (!(sigma > 0) || sigma > 256) throw new ShapeError('gaussian', `sigma must be in (0, 256], got ${sigma}`);
  finite('gaussian', 'maps', maps);
}

export function gaussianReference(maps: Float32Array, s: ImageShape, sigma: number): Float32Array {
  validateGaussian(maps, s, sigma);
  const { B, H, W } = s;
  const r = gaussianRadius(sigma);
  const w = Float64Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = w.reduce((a, b) => a + b, 0);
  const tmp = scratch('gaussian:rows', Float64Array, B * H * W);
  const out = new Float32Array(B * H * W);
  const acc = new Float64Array(W);
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let b = 0; b < B; b++) {
    const o = b * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let acc = 0;
        const row = o + y * W;
        // Away from the edges no tap needs clamping (the same sum in the same order).
        if (x >= r && x + r < W) for (let d = -r; d <= r; d++) acc += w[d + r]! * maps[row + x + d]!;
        else for (let d = -r; d <= r; d++) acc += w[d + r]! * maps[row + clamp(x + d, W - 1)]!;
        tmp[row + x] = acc / sum;
      }
    }
    for (let y = 0; y < H; y++) {
      // Row by row of taps, so the reads run along rows (each pixel's sum in the same order).
      acc.fill(0);
      for (let d = -r; d <= r; d++) {
        const row = o + clamp(y + d, H - 1) * W;
        const wd = w[d + r]!;
        for (let x = 0; x < W; x++) acc[x]! += wd * tmp[row + x]!;
      }
      for (let x = 0; x < W; x++) out[o + y * W + x] = acc[x]! / sum;
    }
  }
  return out;
}
