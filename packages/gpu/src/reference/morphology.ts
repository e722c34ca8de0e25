/** CPU reference of kernels/morphology.wgsl: binary erosion and dilation. */
import { imageShape, length, ShapeError, type ImageShape } from '../shapes.ts';

export interface StructuringElement {
  shape: 'square' | 'disc';
  /** Radius r: the element spans (2r + 1)² pixels (the disc keeps dx² + dy² ≤ r²). */
  radius: number;
}

export type MorphologyOp = 'erode' | 'dilate';

export function validateMorphology(masks: Uint8Array, s: ImageShape, element: StructuringElement): void {
  imageShape('morphology', s);
  length('morphology', 'masks', masks, s.B * s.H * s.W);
  if (!Number.isInteger(element.radius) || element.radius < 0 || element.radius > 64) {
    throw new ShapeError('morphology', `radius must be an integer in 0..64, got ${element.radius}`);
  }
  if (element.shape !== 'square' && element.shape !== 'disc') {
    throw new ShapeError('morphology', `unknown structuring element '${String(element.shape)}' (square or disc)`);
  }
}

/** Outside the image is background (scipy's border_value = 0). */
export function morphologyReference(masks: Uint8Array, s: ImageShape, op: MorphologyOp, element: StructuringElement): Uint8Array {
  validateMorphology(masks, s, element);
  const { B, H, W } = s;
  const r = element.radius;
  const want = op === 'erode' ? 1 : 0;
  const out = new Uint8Array(B * H * W);
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let result = want;
        scan: for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            if (element.shape === 'disc' && dx * dx + dy * dy > r * r) continue;
            const yy = y + dy;
            const xx = x + dx;
            const v = yy >= 0 && yy < H && xx >= 0 && xx < W && masks[(b * H + yy) * W + xx] ? 1 : 0;
            if (v !== want) { result = v; break scan; }
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
