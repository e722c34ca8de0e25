/** CPU references of kernels/resize.wgsl: bilinear map upsampling, area mask downsampling. */
import { finite, length, positiveInt, ShapeError, type Values } from '../../shapes.ts';

export interface ResizeShape {
  B: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
}

function resizeShape(kernel: string, s: ResizeShape): void {
  for (const [name, v] of Object.entries(s)) positiveInt(kernel, name, v);
}

export function validateUpsample(maps: Values, s: ResizeShape): void {
  resizeShape('resize', s);
  length('resize', 'maps', maps, s.B * s.inH * s.inW);
  finite('resize', 'maps', maps);
}

/** Half-pixel centres, edge clamping (PyTorch's align_corners=False). */
export function upsampleBilinearReference(maps: Float32Array, s: ResizeShape): Float32Array {
  validateUpsample(maps, s);
  const { B, inH, inW, outH, outW } = s;
  const out = new Float32Array(B * outH * outW);
  const f = Math.fround;
  // Each output column's source columns and weight (the same for every row and map).
  const xs0 = new Int32Array(outW);
  const xs1 = new Int32Array(outW);
  const fxs = new Float64Array(outW);
  for (let x = 0; x < outW; x++) {
    const sx = Math.min(Math.max(f(f(f(x + 0.5) * inW) / outW) - 0.5, 0), inW - 1);
    xs0[x] = Math.floor(sx);
    xs1[x] = Math.min(xs0[x]! + 1, inW - 1);
    fxs[x] = sx - xs0[x]!;
  }
  for (let b = 0; b < B; b++) {
    const base = b * inH * inW;
    for (let y = 0; y < outH; y++) {
      // Coordinates in f32, as the kernel computes them, so floor() picks the same pixel.
      const sy = Math.min(Math.max(f(f(f(y + 0.5) * inH) / outH) - 0.5, 0), inH - 1);
      const y0 = Math.floor(sy);
      const y1 = Math.min(y0 + 1, inH - 1);
      const fy = sy - y0;
      for (let x = 0; x < outW; x++) {
        const x0 = xs0[x]!;
        const x1 = xs1[x]!;
        const fx = fxs[x]!;
        const top = maps[base + y0 * inW + x0]! * (1 - fx) + maps[base + y0 * inW + x1]! * fx;
        const bottom = maps[base + y1 * inW + x0]! * (1 - fx) + maps[base + y1 * inW + x1]! * fx;
        out[(b * outH + y) * outW + x] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

export function validateDownsampleMask(masks: Values, s: ResizeShape): void {
  resizeShape('resize', s);
  length('resize', 'masks', masks, s.B * s.inH * s.inW);
  if (s.inH % s.outH !== 0 || s.inW % s.outW !== 0) {
    throw new ShapeError('resize', `area downsampling needs integer factors; ${s.inH}×${s.inW} → ${s.outH}×${s.outW} is not`);
  }
}

/**
 * Area average per output cell; foreground when the fraction is ≥ 0.5, and when no cell of a
 * mask reaches 0.5, every cell with any foreground (a thin organ must not vanish).
 */
export function downsampleMaskReference(masks: Uint8Array, s: ResizeShape): Uint8Array {
  validateDownsampleMask(masks, s);
  const { B, inH, inW, outH, outW } = s;
  const fy = inH / outH;
  const fx = inW / outW;
  const out = new Uint8Array(B * outH * outW);
  const counts = new Uint32Array(outH * outW);
  for (let b = 0; b < B; b++) {
    counts.fill(0);
    for (let y = 0; y < inH; y++) {
      for (let x = 0; x < inW; x++) {
        if (masks[(b * inH + y) * inW + x]) counts[Math.floor(y / fy) * outW + Math.floor(x / fx)]!++;
      }
    }
    const strict = counts.some((c) => 2 * c >= fy * fx);
    counts.forEach((c, i) => {
      out[b * outH * outW + i] = (strict ? 2 * c >= fy * fx : c > 0) ? 1 : 0;
    });
  }
  return out;
}
