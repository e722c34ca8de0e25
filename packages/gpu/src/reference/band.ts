/** CPU reference of kernels/band.wgsl: row-major indices of values inside [lo, hi]. */
import { finite, length, positiveInt, ShapeError } from '../shapes.ts';
import type { RowsShape } from './moments.ts';

/** One [lo, hi] per row. */
export type Bounds = readonly (readonly [number, number])[];

export function validateBand(values: Float32Array, bounds: Bounds, s: RowsShape): void {
  positiveInt('band', 'B', s.B);
  positiveInt('band', 'N', s.N);
  length('band', 'values', values, s.B * s.N);
  if (bounds.length !== s.B) throw new ShapeError('band', `${bounds.length} bounds for ${s.B} rows`);
  bounds.forEach(([lo, hi], b) => {
    if (Number.isNaN(lo) || Number.isNaN(hi)) throw new ShapeError('band', `bounds of row ${b} are [${lo}, ${hi}]`);
  });
  finite('band', 'values', values);
}

export function bandReference(values: Float32Array, bounds: Bounds, s: RowsShape): Uint32Array[] {
  validateBand(values, bounds, s);
  const out: Uint32Array[] = [];
  for (let b = 0; b < s.B; b++) {
    // The kernel compares in f32; so must the reference.
    const lo = Math.fround(bounds[b]![0]);
    const hi = Math.fround(bounds[b]![1]);
    const hits: number[] = [];
    for (let i = 0; i < s.N; i++) {
      const v = values[b * s.N + i]!;
      if (v >= lo && v <= hi) hits.push(i);
    }
    out.push(Uint32Array.from(hits));
  }
  return out;
}
