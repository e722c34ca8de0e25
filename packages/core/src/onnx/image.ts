/**
 * Turning a 256×256 ROI slice into an encoder's input tensor: resize to the model's square side,
 * grey to three channels, per-channel normalisation. Bicubic follows PIL's (Keys, a = −0.5),
 * which DINOv2's Hugging Face image processor uses; bilinear is the resize kernel's reference
 * (half-pixel centres, edge-clamped).
 */
import { upsampleBilinearReference } from '@synpo/gpu/kernels';
import { ROI } from '../backend.ts';

function cubic(t: number, a = -0.5): number {
  const x = Math.abs(t);
  if (x <= 1) return (a + 2) * x ** 3 - (a + 3) * x ** 2 + 1;
  if (x < 2) return a * x ** 3 - 5 * a * x ** 2 + 8 * a * x - 4 * a;
  return 0;
}

/** Resizes one ROI×ROI image to side×side. */
export function resizeSquare(image: Float32Array, side: number, interpolation: 'bilinear' | 'bicubic'): Float32Array {
  if (side === ROI) return image.slice();
  if (interpolation === 'bilinear') return upsampleBilinearReference(image, { B: 1, inH: ROI, inW: ROI, outH: side, outW: side });
  const out = new Float32Array(side * side);
  const scale = ROI / side;
  const at = (x: number, y: number) => image[Math.min(ROI - 1, Math.max(0, y)) * ROI + Math.min(ROI - 1, Math.max(0, x))]!;
  for (let y = 0; y < side; y++) {
    const sy = (y + 0.5) * scale - 0.5;
    for (let x = 0; x < side; x++) {
      const sx = (x + 0.5) * scale - 0.5;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      let v = 0;
      for (let j = -1; j <= 2; j++) {
        const wy = cubic(sy - (y0 + j));
        for (let i = -1; i <= 2; i++) v += wy * cubic(sx - (x0 + i)) * at(x0 + i, y0 + j);
      }
      out[y * side + x] = v;
    }
  }
  return out;
}

/** [B][ROI²] slices in [0, 1] → a [B][3][side][side] tensor, grey replicated, normalised. */
export function toModelInput(
  slices: Float32Array,
  B: number,
  side: number,
  mean: readonly number[],
  std: readonly number[],
  interpolation: 'bilinear' | 'bicubic',
): Float32Array {
  const plane = side * side;
  const out = new Float32Array(B * 3 * plane);
  for (let b = 0; b < B; b++) {
    const resized = resizeSquare(slices.subarray(b * ROI * ROI, (b + 1) * ROI * ROI), side, interpolation);
    for (let c = 0; c < 3; c++) {
      const o = (b * 3 + c) * plane;
      for (let i = 0; i < plane; i++) out[o + i] = (resized[i]! - mean[c]!) / std[c]!;
    }
  }
  return out;
}

/** FNV-1a over the bytes of a slice: the key of the encoding cache. */
export function contentHash(data: Float32Array): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < bytes.length; i++) {
    h1 = Math.imul(h1 ^ bytes[i]!, 0x01000193);
    h2 = Math.imul(h2 ^ bytes[i]!, 0x85ebca6b);
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}:${data.length}`;
}
