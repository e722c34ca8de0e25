/**
 * CPU reference of kernels/features.wgsl and the weight-free encoders' channel layout:
 * for each scale σ, the local mean and local standard deviation of the slice, area-pooled onto
 * the feature grid and standardised per channel; and the constant absolute-position channels.
 */
import { finite, imageShape, length, ShapeError, type ImageShape, type Values } from '../../shapes.ts';
import { gaussianReference } from '../gaussian/reference.ts';
import { momentsReference } from '../moments/reference.ts';

export interface AppearanceSpec {
  /** Blur scales in pixels of the slice. */
  sigmas: readonly number[];
  /** Integer pooling factor from the slice to the feature grid (256 → 64: 4). */
  pool: number;
  /**
   * The slice is first area-averaged by this factor (dividing `pool`), and the blurs run on the
   * smaller image at σ / prePool: the features are pooled anyway, and it is prePool² × fewer
   * pixels to blur. 1 keeps the full resolution.
   */
  prePool?: number;
}

export const FEATURE_EPS = 1e-6;

export function validateAppearance(slices: Values, s: ImageShape, spec: AppearanceSpec): void {
  imageShape('features', s);
  length('features', 'slices', slices, s.B * s.H * s.W);
  if (spec.sigmas.length === 0) throw new ShapeError('features', 'at least one scale is needed');
  if (!Number.isInteger(spec.pool) || spec.pool < 1 || s.H % spec.pool || s.W % spec.pool) {
    throw new ShapeError('features', `pool ${spec.pool} must divide ${s.H}×${s.W}`);
  }
  const pre = spec.prePool ?? 1;
  if (!Number.isInteger(pre) || pre < 1 || spec.pool % pre) throw new ShapeError('features', `prePool ${pre} must divide pool ${spec.pool}`);
  finite('features', 'slices', slices);
}

/** Area average of B maps by an integer factor. */
export function shrinkReference(maps: Float32Array, s: ImageShape, factor: number): Float32Array {
  const h = s.H / factor;
  const w = s.W / factor;
  const out = new Float32Array(s.B * h * w);
  for (let b = 0; b < s.B; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let acc = 0;
        for (let dy = 0; dy < factor; dy++) for (let dx = 0; dx < factor; dx++) acc += maps[(b * s.H + y * factor + dy) * s.W + x * factor + dx]!;
        out[(b * h + y) * w + x] = acc / (factor * factor);
      }
    }
  }
  return out;
}

/** Channels of one scale: pooled local mean and local std, written at `channel` and `channel + 1`. */
export function localStatsReference(g: Float32Array, q: Float32Array, s: ImageShape, pool: number, out: Float32Array, C: number, channel: number): void {
  const h = s.H / pool;
  const w = s.W / pool;
  for (let b = 0; b < s.B; b++) {
    for (let cy = 0; cy < h; cy++) {
      for (let cx = 0; cx < w; cx++) {
        let mean = 0;
        let spread = 0;
        for (let dy = 0; dy < pool; dy++) {
          for (let dx = 0; dx < pool; dx++) {
            const i = b * s.H * s.W + (cy * pool + dy) * s.W + cx * pool + dx;
            mean += g[i]!;
            spread += Math.sqrt(Math.max(q[i]! - g[i]! * g[i]!, 0));
          }
        }
        out[(b * C + channel) * h * w + cy * w + cx] = mean / (pool * pool);
        out[(b * C + channel + 1) * h * w + cy * w + cx] = spread / (pool * pool);
      }
    }
  }
}

/** [B][2·S][h·w]: per scale the mean then the std channel, each standardised over its grid. */
export function appearanceReference(slices: Float32Array, s: ImageShape, spec: AppearanceSpec): Float32Array {
  validateAppearance(slices, s, spec);
  const C = 2 * spec.sigmas.length;
  const cells = (s.H / spec.pool) * (s.W / spec.pool);
  const out = new Float32Array(s.B * C * cells);
  const pre = spec.prePool ?? 1;
  const small = { B: s.B, H: s.H / pre, W: s.W / pre };
  const image = pre > 1 ? shrinkReference(slices, s, pre) : slices;
  const squares = image.map((v) => v * v);
  spec.sigmas.forEach((sigma, k) => {
    localStatsReference(gaussianReference(image, small, sigma / pre), gaussianReference(squares, small, sigma / pre), small, spec.pool / pre, out, C, 2 * k);
  });
  const stats = momentsReference(out, null, { B: s.B * C, N: cells });
  stats.forEach(({ mean, std }, row) => {
    for (let i = row * cells; i < (row + 1) * cells; i++) out[i] = (out[i]! - mean) / Math.max(std, FEATURE_EPS);
  });
  return out;
}

/**
 * Absolute-position channels on an h×w grid, channel-first: x and y in [−1, 1] at the cell
 * centres, then sin(πfx), cos(πfx), sin(πfy), cos(πfy) for each frequency f. Constant for a
 * grid size, so computed once on the host.
 */
export function positionChannels(h: number, w: number, frequencies: readonly number[]): Float32Array {
  const C = 2 + 4 * frequencies.length;
  const out = new Float32Array(C * h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const u = ((x + 0.5) / w) * 2 - 1;
      const v = ((y + 0.5) / h) * 2 - 1;
      const values = [
        u,
        v,
        ...frequencies.flatMap((f) => [Math.sin(Math.PI * f * u), Math.cos(Math.PI * f * u), Math.sin(Math.PI * f * v), Math.cos(Math.PI * f * v)]),
      ];
      values.forEach((value, c) => {
        out[c * h * w + i] = value;
      });
    }
  }
  return out;
}
