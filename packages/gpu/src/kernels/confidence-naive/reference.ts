/** CPU reference of kernels/confidence-naive.wgsl: the paper's literal (1/n) Σ_i cos(F_Q(x), T_i). */
import { featureShape, finite, length, ShapeError, type FeatureShape, type Values } from '../../shapes.ts';
import { cellInverseNorms } from '../prototype/reference.ts';

export function validateConfidenceNaive(query: Values, support: Values, supportMask: Uint8Array, shape: FeatureShape): void {
  featureShape('confidence-naive', shape);
  length('confidence-naive', 'query features', query, shape.B * shape.C * shape.N);
  if (supportMask.length === 0) throw new ShapeError('confidence-naive', 'support mask is empty');
  length('confidence-naive', 'support features', support, shape.C * supportMask.length);
  if (!supportMask.some((m) => m !== 0)) throw new ShapeError('confidence-naive', 'support mask has no foreground cell');
  finite('confidence-naive', 'query features', query);
  finite('confidence-naive', 'support features', support);
}

/**
 * The literal (1/n) Σ_i cos(F_Q(x), T_i); O(n·C) per cell. The support grid has
 * `supportMask.length` cells (the query grids' N in SynPo).
 */
export function confidenceNaiveReference(query: Float32Array, support: Float32Array, supportMask: Uint8Array, shape: FeatureShape): Float32Array {
  validateConfidenceNaive(query, support, supportMask, shape);
  const { B, C, N } = shape;
  const fg: number[] = [];
  supportMask.forEach((m, i) => m && fg.push(i));
  const Ns = supportMask.length;
  const supInv = cellInverseNorms(support, { B: 1, C, N: Ns });
  const qInv = cellInverseNorms(query, shape);
  const out = new Float32Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < N; i++) {
      let acc = 0;
      for (const j of fg) {
        let dot = 0;
        for (let c = 0; c < C; c++) dot += query[(b * C + c) * N + i]! * support[c * Ns + j]!;
        acc += dot * qInv[b * N + i]! * supInv[j]!;
      }
      out[b * N + i] = acc / fg.length;
    }
  }
  return out;
}
