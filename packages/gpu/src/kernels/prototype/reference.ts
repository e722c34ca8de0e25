/** CPU reference of kernels/prototype.wgsl: mean of L2-normalised foreground vectors. */
import { featureShape, finite, hostValues, length, NORM_EPS, ShapeError, type FeatureShape, type Values } from '../../shapes.ts';

export function validatePrototype(feats: Values, masks: Values, shape: FeatureShape): void {
  featureShape('prototype', shape);
  length('prototype', 'features', feats, shape.B * shape.C * shape.N);
  length('prototype', 'mask', masks, shape.B * shape.N);
  finite('prototype', 'features', feats);
  const m = hostValues(masks);
  for (let b = 0; m && b < shape.B; b++) {
    let any = false;
    for (let i = b * shape.N; i < (b + 1) * shape.N && !any; i++) any = m[i] !== 0;
    if (!any) {
      throw new ShapeError('prototype', `support mask ${b} has no foreground cell; a prototype needs at least one`);
    }
  }
}

/** Inverse L2 norm of every cell of every grid: [B][N]. */
export function cellInverseNorms(feats: Float32Array, { B, C, N }: FeatureShape): Float64Array {
  const inv = new Float64Array(B * N);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const row = (b * C + c) * N;
      for (let i = 0; i < N; i++) inv[b * N + i]! += feats[row + i]! * feats[row + i]!;
    }
  }
  for (let t = 0; t < inv.length; t++) inv[t] = 1 / Math.max(Math.sqrt(inv[t]!), NORM_EPS);
  return inv;
}

export function prototypeReference(feats: Float32Array, masks: Uint8Array, shape: FeatureShape): Float32Array {
  validatePrototype(feats, masks, shape);
  const { B, C, N } = shape;
  const inv = cellInverseNorms(feats, shape);
  const proto = new Float32Array(B * C);
  for (let b = 0; b < B; b++) {
    let n = 0;
    for (let i = 0; i < N; i++) if (masks[b * N + i]) n++;
    for (let c = 0; c < C; c++) {
      const row = (b * C + c) * N;
      let s = 0;
      for (let i = 0; i < N; i++) if (masks[b * N + i]) s += feats[row + i]! * inv[b * N + i]!;
      proto[b * C + c] = s / n;
    }
  }
  return proto;
}
