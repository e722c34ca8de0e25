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
  const clamp = (v: number, hi: number) => (v < 0 ? 0 : v > hi ? hi : v);
  for (let b = 0; b < B; b++) {
    const o = b * H * W;
    for (let y = 0; y < H; y++) {
      const row = o + y * W;
      for (let x = 0; x < W;) {
        // Away from the edges no tap needs clamping, and four pixels are summed side by side: four
        // independent sums the CPU overlaps, each the same sum in the same order.
        if (x >= r && x + 3 + r < W) {
          let a0 = 0;
          let a1 = 0;
          let a2 = 0;
          let a3 = 0;
          for (let d = -r, i = row + x - r; d <= r; d++, i++) {
            const wd = w[d + r]!;
            a0 += wd * maps[i]!;
            a1 += wd * maps[i + 1]!;
            a2 += wd * maps[i + 2]!;
            a3 += wd * maps[i + 3]!;
          }
          tmp[row + x] = a0 / sum;
          tmp[row + x + 1] = a1 / sum;
          tmp[row + x + 2] = a2 / sum;
          tmp[row + x + 3] = a3 / sum;
          x += 4;
          continue;
        }
        let acc = 0;
        for (let d = -r; d <= r; d++) acc += w[d + r]! * maps[row + clamp(x + d, W - 1)]!;
        tmp[row + x] = acc / sum;
        x++;
      }
    }
    for (let y = 0; y < H; y++) {
      // Four columns side by side, each tap a row's four neighbouring values (each pixel's sum in
      // the same order).
      let x = 0;
      for (; x + 3 < W; x += 4) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        let a3 = 0;
        for (let d = -r; d <= r; d++) {
          const i = o + clamp(y + d, H - 1) * W + x;
          const wd = w[d + r]!;
          a0 += wd * tmp[i]!;
          a1 += wd * tmp[i + 1]!;
          a2 += wd * tmp[i + 2]!;
          a3 += wd * tmp[i + 3]!;
        }
        const at = o + y * W + x;
        out[at] = a0 / sum;
        out[at + 1] = a1 / sum;
        out[at + 2] = a2 / sum;
        out[at + 3] = a3 / sum;
      }
      for (; x < W; x++) {
        let a = 0;
        for (let d = -r; d <= r; d++) a += w[d + r]! * tmp[o + clamp(y + d, H - 1) * W + x]!;
        out[o + y * W + x] = a / sum;
      }
    }
  }
  return out;
}
