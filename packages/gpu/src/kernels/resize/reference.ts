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

/**
 * The two source indices and the weight of the second for each of `outSize` output coordinates
 * (half-pixel centres, edge clamping), computed in f32 as the kernel does, so floor() picks the
 * same source pixel.
 */
export function bilinearTaps(inSize: number, outSize: number): { lo: Int32Array; hi: Int32Array; frac: Float64Array } {
  const f = Math.fround;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const frac = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const src = Math.min(Math.max(f(f(f(o + 0.5) * inSize) / outSize) - 0.5, 0), inSize - 1);
    lo[o] = Math.floor(src);
    hi[o] = Math.min(lo[o]! + 1, inSize - 1);
    frac[o] = src - lo[o]!;
  }
  return { lo, hi, frac };
}

/** Half-pixel centres, edge clamping (PyTorch's align_corners=False). */
export function upsampleBilinearReference(maps: Float32Array, s: ResizeShape): Float32Array {
  validateUpsample(maps, s);
  const { B, inH, inW, outH, outW } = s;
  const out = new Float32Array(B * outH * outW);
  const xs = bilinearTaps(inW, outW);
  const ys = bilinearTaps(inH, outH);
  for (let b = 0; b < B; b++) {
    const base = b * inH * inW;
    for (let y = 0; y < outH; y++) {
      const y0 = ys.lo[y]!;
      const y1 = ys.hi[y]!;
      const fy = ys.frac[y]!;
      for (let x = 0; x < outW; x++) {
        const x0 = xs.lo[x]!;
        const x1 = xs.hi[x]!;
        const fx = xs.frac[x]!;
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
