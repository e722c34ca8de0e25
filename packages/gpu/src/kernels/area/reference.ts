/** CPU reference of kernels/area.wgsl: a mask whose area follows a target, within a threshold range. */
import { length, ShapeError, type Values } from '../../shapes.ts';

/** Bins of the histogram the threshold is read from (1/256 of probability). */
export const AREA_BINS = 256;

export interface AreaThresholdOptions {
  /** The threshold is clamped to [lo, hi]. */
  lo: number;
  hi: number;
  /** The threshold of a row whose target is ≤ 0 (no area known). */
  fallback: number;
}

export function validateAreaThreshold(values: Values, targets: Values, B: number, P: number, o: AreaThresholdOptions): void {
  if (!Number.isInteger(B) || !Number.isInteger(P) || B < 1 || P < 1) throw new ShapeError('area', `B and P must be positive integers, got ${B} and ${P}`);
  length('area', 'values', values, B * P);
  length('area', 'targets', targets, B);
  if (!(o.lo <= o.hi) || ![o.lo, o.hi, o.fallback].every(Number.isFinite))
    throw new ShapeError('area', `the threshold range must be finite with lo ≤ hi, got ${JSON.stringify(o)}`);
}

const bin = (v: number) => Math.min(AREA_BINS - 1, Math.floor(Math.fround(Math.max(v, 0) * AREA_BINS)));

/**
 * Per row: the threshold t at the top-down histogram bin where the values reach the row's
 * target count, clamped to [lo, hi] (fallback when the target is ≤ 0); mask = value > t.
 */
export function areaThresholdReference(values: Float32Array, targets: Float32Array, B: number, P: number, o: AreaThresholdOptions): Uint8Array {
  validateAreaThreshold(values, targets, B, P, o);
  const out = new Uint8Array(B * P);
  const hist = new Uint32Array(AREA_BINS);
  for (let b = 0; b < B; b++) {
    const row = values.subarray(b * P, (b + 1) * P);
    let t = Math.fround(o.fallback);
    if (targets[b]! > 0) {
      hist.fill(0);
      for (let i = 0; i < P; i++) hist[bin(row[i]!)]!++;
      let count = 0;
      let k = AREA_BINS - 1;
      for (; ; k--) {
        count += hist[k]!;
        if (count >= targets[b]! || k === 0) break;
      }
      t = Math.min(Math.fround(o.hi), Math.max(Math.fround(o.lo), Math.fround(k / AREA_BINS)));
    }
    for (let i = 0; i < P; i++) out[b * P + i] = row[i]! > t ? 1 : 0;
  }
  return out;
}
