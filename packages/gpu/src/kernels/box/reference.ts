/**
 * CPU reference of kernels/box.wgsl: the weight-free decoder's prompt rows from PSM's k-means
 * centres (the box that bounds the walk, then the points in painting order). Computed in double
 * precision and stored as f32, as the host built them before the kernel existed.
 */
import { length, ShapeError } from '../../shapes.ts';

export interface PromptRowsOptions {
  /** ROI pixels per grid cell (a centre's cell becomes the point at the cell's centre). */
  cell: number;
  /** The box grows by `margin` + `marginFactor` × the positives' spread on each side. */
  margin: number;
  marginFactor: number;
  /** …after growing to `extentFactor` × the row's support-organ extent around the positives' mean (0: never). */
  extentFactor: number;
}

export interface PromptRowsShape {
  B: number;
  /** Positive and negative k-means slots per row (Kn may be 0). */
  Kp: number;
  Kn: number;
}

export function validatePromptRows(s: PromptRowsShape, o: PromptRowsOptions): void {
  if (!Number.isInteger(s.B) || s.B < 1 || !Number.isInteger(s.Kp) || s.Kp < 1 || !Number.isInteger(s.Kn) || s.Kn < 0) {
    throw new ShapeError('box', `B and Kp must be positive integers and Kn ≥ 0, got ${JSON.stringify(s)}`);
  }
  if (![o.cell, o.margin, o.marginFactor, o.extentFactor].every(Number.isFinite) || !(o.cell > 0)) {
    throw new ShapeError('box', `the cell size must be > 0 and every option finite, got ${JSON.stringify(o)}`);
  }
}

/**
 * [B][1 + Kn + Kp][4] prompt rows: the box (x0, x1, y0, y1; [1, 0, 0, 0] without positives), then
 * the negatives and the positives as (x, y, label, valid). `extents` [B][2] (width, height in ROI
 * pixels) or null (the box does not grow to an extent).
 */
export function promptRowsReference(
  posCentres: Float32Array,
  posSizes: Uint32Array,
  negCentres: Float32Array | null,
  negSizes: Uint32Array | null,
  extents: Float32Array | null,
  s: PromptRowsShape,
  o: PromptRowsOptions,
): Float32Array {
  validatePromptRows(s, o);
  const { B, Kp, Kn } = s;
  length('box', 'positive centres', posCentres, B * Kp * 2);
  length('box', 'positive sizes', posSizes, B * Kp);
  if (Kn > 0) {
    length('box', 'negative centres', negCentres ?? [], B * Kn * 2);
    length('box', 'negative sizes', negSizes ?? [], B * Kn);
  }
  if (extents) length('box', 'extents', extents, B * 2);
  const P = Kn + Kp;
  const out = new Float32Array(B * (1 + P) * 4);
  const centre = (c: number) => Math.round(c) * o.cell + o.cell / 2;
  for (let b = 0; b < B; b++) {
    const row = b * (1 + P) * 4;
    for (let k = 0; k < Kn; k++) {
      if (negSizes![b * Kn + k] === 0) continue;
      out.set([centre(negCentres![2 * (b * Kn + k)]!), centre(negCentres![2 * (b * Kn + k) + 1]!), 0, 1], row + 4 * (1 + k));
    }
    const xs: number[] = [];
    const ys: number[] = [];
    for (let k = 0; k < Kp; k++) {
      if (posSizes[b * Kp + k] === 0) continue;
      const x = centre(posCentres[2 * (b * Kp + k)]!);
      const y = centre(posCentres[2 * (b * Kp + k) + 1]!);
      xs.push(x);
      ys.push(y);
      out.set([x, y, 1, 1], row + 4 * (1 + Kn + k));
    }
    if (xs.length === 0) {
      out.set([1, 0, 0, 0], row);
      continue;
    }
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const mx = o.margin + o.marginFactor * (x1 - x0);
    const my = o.margin + o.marginFactor * (y1 - y0);
    if (extents && o.extentFactor > 0) {
      const cx = xs.reduce((a, v) => a + v, 0) / xs.length;
      const cy = ys.reduce((a, v) => a + v, 0) / ys.length;
      const hw = (o.extentFactor * extents[2 * b]!) / 2;
      const hh = (o.extentFactor * extents[2 * b + 1]!) / 2;
      [x0, x1, y0, y1] = [Math.min(x0, cx - hw), Math.max(x1, cx + hw), Math.min(y0, cy - hh), Math.max(y1, cy + hh)];
    }
    out.set([x0 - mx, x1 + mx, y0 - my, y1 + my], row);
  }
  return out;
}
