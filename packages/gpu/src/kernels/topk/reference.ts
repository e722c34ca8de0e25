/** CPU reference of kernels/topk.wgsl: the k largest values per row, ties to the lower index. */
import { finite, length, positiveInt, ShapeError, type Values } from '../../shapes.ts';
import type { RowsShape } from '../moments/reference.ts';

export interface TopK {
  values: Float32Array;
  indices: Uint32Array;
}

export const TOPK_MAX_K = 1024;

export function validateTopK(values: Values, s: RowsShape, k: number): void {
  positiveInt('topk', 'B', s.B);
  positiveInt('topk', 'N', s.N);
  positiveInt('topk', 'k', k);
  length('topk', 'values', values, s.B * s.N);
  if (k > s.N) throw new ShapeError('topk', `k = ${k} exceeds the ${s.N} values of a row`);
  if (k > TOPK_MAX_K) throw new ShapeError('topk', `k = ${k} exceeds the supported maximum of ${TOPK_MAX_K}`);
  finite('topk', 'values', values);
}

export function topkReference(values: Float32Array, s: RowsShape, k: number): TopK[] {
  validateTopK(values, s, k);
  const out: TopK[] = [];
  for (let b = 0; b < s.B; b++) {
    const row = values.subarray(b * s.N, (b + 1) * s.N);
    const order = Array.from({ length: s.N }, (_, i) => i).sort((i, j) => row[j]! - row[i]! || i - j);
    const indices = Uint32Array.from(order.slice(0, k));
    out.push({ indices, values: Float32Array.from(indices, (i) => row[i]!) });
  }
  return out;
}
