/** CPU reference of kernels/confidence.wgsl: the fused S = F̂·t̄. */
import { featureShape, finite, length, lengthOf, ShapeError, type FeatureShape, type Values } from '../../shapes.ts';
import { cellInverseNorms } from '../prototype/reference.ts';

export function validateConfidence(feats: Values, protos: Values, shape: FeatureShape): void {
  featureShape('confidence', shape);
  length('confidence', 'features', feats, shape.B * shape.C * shape.N);
  const n = lengthOf(protos);
  if (n !== shape.C && n !== shape.B * shape.C) {
    throw new ShapeError('confidence', `prototype has ${n} values; it needs C = ${shape.C} (shared) or B·C = ${shape.B * shape.C}`);
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
