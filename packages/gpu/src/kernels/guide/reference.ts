/** CPU references of kernels/guide.wgsl: a neighbouring slice's mask as a guide for the fused confidence. */
import { length, ShapeError, type Values } from '../../shapes.ts';

export interface GuideShape {
  B: number;
  /** Mask size (H×W) and the grid it pools onto (G×G); H and W are multiples of G. */
  H: number;
  W: number;
  G: number;
}

export function validateGuideShape(s: GuideShape): void {
  const { B, H, W, G } = s;
  if (![B, H, W, G].every((v) => Number.isInteger(v) && v >= 1) || H % G !== 0 || W % G !== 0) {
    throw new ShapeError('guide', `B, H, W, G must be positive integers with H and W multiples of G, got ${JSON.stringify(s)}`);
  }
}

/**
 * The fraction of set pixels per cell: [B][H][W] masks → [B][G][G]; with `and` ([B][H][W]), of
 * the pixels set in both masks (their overlap).
 */
export function poolMaskReference(masks: Uint8Array, s: GuideShape, and: Uint8Array | null = null): Float32Array {
  validateGuideShape(s);
  const { B, H, W, G } = s;
  length('guide', 'masks', masks, B * H * W);
  if (and) length('guide', 'and', and, B * H * W);
  const fy = H / G;
  const fx = W / G;
  const out = new Float32Array(B * G * G);
  for (let b = 0; b < B; b++) {
    for (let cy = 0; cy < G; cy++) {
      for (let cx = 0; cx < G; cx++) {
        let n = 0;
        for (let y = 0; y < fy; y++) {
          for (let x = 0; x < fx; x++) {
            const i = (b * H + cy * fy + y) * W + cx * fx + x;
            n += masks[i] && (!and || and[i]) ? 1 : 0;
          }
        }
        out[(b * G + cy) * G + cx] = Math.fround(n / (fy * fx));
      }
    }
  }
  return out;
}

export function validateGuidePenalty(maps: Values, guide: Values, B: number, N: number, w: number, plateau = 1): void {
  length('guide', 'maps', maps, B * N);
  length('guide', 'guide', guide, B * N);
  if (!Number.isFinite(w)) throw new ShapeError('guide', `the weight must be finite, got ${w}`);
  if (!(plateau > 0 && plateau <= 1)) throw new ShapeError('guide', `the plateau must be in (0, 1], got ${plateau}`);
}

/**
 * Per row: synmap − w·(1 − min(1, g / (plateau·max(g)))); a row with an empty guide (max ≤ 0)
 * unchanged. A plateau below 1 leaves every cell whose guide reaches that share of its peak as it is.
 */
export function guidePenaltyReference(maps: Float32Array, guide: Float32Array, B: number, N: number, w: number, plateau = 1): Float32Array {
  validateGuidePenalty(maps, guide, B, N, w, plateau);
  const out = new Float32Array(B * N);
  const wf = Math.fround(w);
  for (let b = 0; b < B; b++) {
    let top = 0;
    for (let i = 0; i < N; i++) top = Math.max(top, guide[b * N + i]!);
    const cap = Math.fround(top * Math.fround(plateau));
    for (let i = 0; i < N; i++) {
      const t = b * N + i;
      out[t] = top > 0 ? maps[t]! - wf * Math.fround(1 - Math.min(1, Math.fround(guide[t]! / cap))) : maps[t]!;
    }
  }
  return out;
}
