/** CPU references of kernels/confidence.wgsl (fused) and kernels/confidence-naive.wgsl. */
import { featureShape, finite, length, ShapeError, type FeatureShape } from '../shapes.ts';
import { cellInverseNorms } from './prototype.ts';

export function validateConfidence(feats: Float32Array, protos: Float32Array, shape: FeatureShape): void {
  featureShape('confidence', shape);
  length('confidence', 'features', feats, shape.B * shape.C * shape.N);
  if (protos.length !== shape.C && protos.length !== shape.B * shape.C) {
    throw new ShapeError('confidence', `prototype has ${protos.length} values; it needs C = ${shape.C} (shared) or B·C = ${shape.B * shape.C}`);
  }
  finite('confidence', 'features', feats);
  finite('confidence', 'prototype', protos);
}

/** S(x) = F̂(x) · t̄ for every cell; `protos` is one prototype (C) or one per grid (B·C). */
export function confidenceReference(feats: Float32Array, protos: Float32Array, shape: FeatureShape): Float32Array {
  validateConfidence(feats, protos, shape);
  const { B, C, N } = shape;
  const stride = protos.length === C ? 0 : C;
  const inv = cellInverseNorms(feats, shape);
  const out = new Float32Array(B * N);
  const dot = new Float64Array(N);
  for (let b = 0; b < B; b++) {
    dot.fill(0);
    for (let c = 0; c < C; c++) {
      const row = (b * C + c) * N;
      const t = protos[b * stride + c]!;
      for (let i = 0; i < N; i++) dot[i]! += feats[row + i]! * t;
    }
    for (let i = 0; i < N; i++) out[b * N + i] = dot[i]! * inv[b * N + i]!;
  }
  return out;
}

export function validateConfidenceNaive(query: Float32Array, support: Float32Array, supportMask: Uint8Array, shape: FeatureShape): void {
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
