/** CPU reference of kernels/band.wgsl: row-major indices of values inside [lo, hi]. */
import { finite, hostValues, length, lengthOf, positiveInt, ShapeError, type Values } from '../../shapes.ts';
import type { RowsShape } from '../moments/reference.ts';

/** One [lo, hi] per row. */
export type Bounds = readonly (readonly [number, number])[];

/** `bounds`: [B][2], each row's lo and hi. */
export function validateBand(values: Values, bounds: Values, s: RowsShape): void {
  positiveInt('band', 'B', s.B);
  positiveInt('band', 'N', s.N);
  length('band', 'values', values, s.B * s.N);
  const n = lengthOf(bounds);
  if (n !== 2 * s.B) throw new ShapeError('band', `${n / 2} bounds for ${s.B} rows`);
  const b = hostValues(bounds);
  for (let r = 0; b && r < s.B; r++) {
    if (Number.isNaN(b[2 * r]) || Number.isNaN(b[2 * r + 1])) throw new ShapeError('band', `bounds of row ${r} are [${b[2 * r]}, ${b[2 * r + 1]}]`);
  }
  finite('band', 'values', values);
}

export function bandReference(values: Float32Array, bounds: Bounds, s: RowsShape): Uint32Array[] {
  validateBand(values, bounds.flat(), s);
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
