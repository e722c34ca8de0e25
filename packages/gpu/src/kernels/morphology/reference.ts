/** CPU reference of kernels/morphology.wgsl: binary erosion and dilation. */
import { imageShape, length, ShapeError, type ImageShape, type Values } from '../../shapes.ts';
import { scratch } from '../../scratch.ts';

export interface StructuringElement {
  shape: 'square' | 'disc';
  /** Radius r: the element spans (2r + 1)² pixels (the disc keeps dx² + dy² ≤ r²). */
  radius: number;
}

export type MorphologyOp = 'erode' | 'dilate';

export function validateMorphology(masks: Values, s: ImageShape, element: StructuringElement): void {
  imageShape('morphology', s);
  length('morphology', 'masks', masks, s.B * s.H * s.W);
  if (!Number.isInteger(element.radius) || element.radius < 0 || element.radius > 64) {
    throw new ShapeError('morphology', `radius must be an integer in 0..64, got ${element.radius}`);
  }
  if (element.shape !== 'square' && element.shape !== 'disc') {
    throw new ShapeError('morphology', `unknown structuring element '${String(element.shape)}' (square or disc)`);
  }
}

/**
 * Outside the image is background (scipy's border_value = 0). The element is a stack of
 * horizontal runs (half-width `reach[dy]` at row offset dy), so each output pixel asks, per row
 * of the element, how many ones its run covers: a prefix sum per image row answers that in one
 * step. Erosion keeps a pixel whose every run is inside the image and all ones; dilation sets
 * one that any run touches a one in.
 */
export function morphologyReference(masks: Uint8Array, s: ImageShape, op: MorphologyOp, element: StructuringElement): Uint8Array {
  validateMorphology(masks, s, element);
  const { B, H, W } = s;
  const r = element.radius;
  const reach = Array.from({ length: 2 * r + 1 }, (_, i) => (element.shape === 'disc' ? Math.floor(Math.sqrt(r * r - (i - r) ** 2)) : r));
  const out = new Uint8Array(B * H * W);
  // ones[(b·H + y)·(W + 1) + x]: the ones in row y of slice b before column x.
  const ones = scratch('morphology:ones', Int32Array, B * H * (W + 1));
  for (let row = 0; row < B * H; row++) {
    ones[row * (W + 1)] = 0; // scratch: it holds the last call's counts
    for (let x = 0; x < W; x++) ones[row * (W + 1) + x + 1] = ones[row * (W + 1) + x]! + (masks[row * W + x] ? 1 : 0);
  }
  const erode = op === 'erode';
  for (let b = 0; b < B; b++) {
    // Only pixels within the ones' bounding box (erosion) or r of it (dilation) can be set.
    let [y0, y1, x0b, x1b] = [H, -1, W, -1];
    for (let y = 0; y < H; y++) {
      const row = (b * H + y) * (W + 1);
      if (ones[row + W] === 0) continue;
      y0 = Math.min(y0, y);
      y1 = y;
      for (let x = 0; x < W; x++)
        if (masks[(b * H + y) * W + x]) {
          x0b = Math.min(x0b, x);
          break;
        }
      for (let x = W - 1; x >= 0; x--)
        if (masks[(b * H + y) * W + x]) {
          x1b = Math.max(x1b, x);
          break;
        }
    }
    if (y1 < 0) continue;
    const grow = erode ? 0 : r;
    for (let y = Math.max(0, y0 - grow); y <= Math.min(H - 1, y1 + grow); y++) {
      for (let x = Math.max(0, x0b - grow); x <= Math.min(W - 1, x1b + grow); x++) {
        let result = erode ? 1 : 0;
        for (let dy = -r; dy <= r; dy++) {
          const yy = y + dy;
          const w = reach[dy + r]!;
          const x0 = x - w;
          const x1 = x + w;
          if (erode) {
            // A run reaching past the image meets background.
            if (yy < 0 || yy >= H || x0 < 0 || x1 >= W) {
              result = 0;
              break;
            }
            const row = (b * H + yy) * (W + 1);
            if (ones[row + x1 + 1]! - ones[row + x0]! !== x1 - x0 + 1) {
              result = 0;
              break;
            }
          } else {
            if (yy < 0 || yy >= H) continue;
            const row = (b * H + yy) * (W + 1);
            if (ones[row + Math.min(x1, W - 1) + 1]! - ones[row + Math.max(x0, 0)]! > 0) {
              result = 1;
              break;
            }
          }
        }
        out[(b * H + y) * W + x] = result;
      }
    }
  }
  return out;
}

/** Opening (erosion, then dilation): removes specks thinner than the element. */
export function openingReference(masks: Uint8Array, s: ImageShape, element: StructuringElement): Uint8Array {
  return morphologyReference(morphologyReference(masks, s, 'erode', element), s, 'dilate', element);
}
