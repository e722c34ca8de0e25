/** CPU reference of kernels/moments.wgsl: Gaussian MLE (mean, population std) of masked values. */
import { hostValues, length, positiveInt, ShapeError, type Values } from '../../shapes.ts';

export interface Moments {
  count: number;
  mean: number;
  /** Population standard deviation (the maximum-likelihood σ). 0 for an empty set. */
  std: number;
}

export interface RowsShape {
  B: number;
  N: number;
}

export function validateMoments(values: Values, mask: Values | null, s: RowsShape): void {
  positiveInt('moments', 'B', s.B);
  positiveInt('moments', 'N', s.N);
  if (s.N > 1 << 24) throw new ShapeError('moments', `N = ${s.N} exceeds 2^24, the exact range of the f32 counts`);
  length('moments', 'values', values, s.B * s.N);
  if (mask) length('moments', 'mask', mask, s.B * s.N);
  // Only the selected values enter the reduction, so only they must be finite.
  const v = hostValues(values);
  const m = mask && hostValues(mask);
  if (!v || (mask && !m)) return; // on the device: the values are not here to check
  for (let i = 0; i < v.length; i++) {
    if ((!m || m[i]) && !Number.isFinite(v[i])) {
      throw new ShapeError('moments', `values[${i}] is ${v[i]}; inputs must be finite`);
    }
  }
}

/** Two-pass in float64: the mean first, then the squared deviations from it. */
export function momentsReference(values: Float32Array, mask: Uint8Array | null, s: RowsShape): Moments[] {
  validateMoments(values, mask, s);
  const out: Moments[] = [];
  for (let b = 0; b < s.B; b++) {
    let n = 0;
    let sum = 0;
    for (let i = b * s.N; i < (b + 1) * s.N; i++)
      if (!mask || mask[i]) {
        n++;
        sum += values[i]!;
      }
    const mean = n > 0 ? sum / n : 0;
    let m2 = 0;
    for (let i = b * s.N; i < (b + 1) * s.N; i++) if (!mask || mask[i]) m2 += (values[i]! - mean) ** 2;
    out.push({ count: n, mean, std: n > 0 ? Math.sqrt(m2 / n) : 0 });
  }
  return out;
}
