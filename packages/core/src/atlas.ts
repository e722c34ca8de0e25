/**
 * The support volume's organ carried onto the query (AtlasOptions): an anatomical prior that needs
 * no training. Along z, the slices correspond by their relative position in the organ's range (the
 * correspondence the 1-shot protocol already makes when it gives each third of the query's range
 * the support slice of the same third); in-plane, the support slice is mapped onto the query slice
 * by landmarks both volumes share, then the organ is moved to where the images around it agree best:
 *  - `spine`: the vertebral column (the saturated bone near the body's midline on windowed CT),
 *    which sits between the kidneys at a nearly constant offset; the body's spread gives the scale;
 *  - `body`: the body's centroid and spread (MR, where bone is not bright).
 * Landmarks are averaged over each volume's slices of the range, and the shift (refineShift) is
 * one for all its slices, so one transform serves the whole range. The warped organ is then the fraction of each atlas cell (ATLAS_GRID) it covers: the prior the fused
 * confidence is lowered away from (Synpo's `atlas` rows).
 */
import { ShapeError } from '@synpo/gpu';
import { PIXELS, ROI } from './backend.ts';
import type { PreparedVolume } from './preprocess.ts';
import { anySet, nearestOrganSlice } from './protocol.ts';

/**
 * Cells a side of an atlas map: 16×16 cells of 16×16 pixels. The prior is blurred over several
 * of the 64×64 grid's cells anyway, and a coarse map crosses to the device in 512 bytes a row (its cells' pixel counts as 16-bit integers).
 */
export const ATLAS_GRID = 16;
export const ATLAS_CELLS = ATLAS_GRID * ATLAS_GRID;
/** ROI pixels in an atlas cell: a cell's fraction is a multiple of 1 / ATLAS_CELL_PIXELS. */
export const ATLAS_CELL_PIXELS = (ROI / ATLAS_GRID) ** 2;

/** Values above this (of prepared slices in [0, 1]) are the body. */
export const BODY_THRESHOLD = 0.05;
/** Values at or above this are saturated bone on windowed CT. */
export const BONE_THRESHOLD = 0.9;
/** Half-width, in ROI pixels, of the band around the body's centre where the spine is looked for. */
const SPINE_BAND = 20;
/** A volume is windowed CT when at least this fraction of its body is saturated (bone); MR's clip leaves about 0.5 %. */
const SATURATED_BODY = 0.015;

export type AtlasAnchor = 'auto' | 'spine' | 'body';

/** Where a slice's body and spine are, in ROI pixels. */
export interface SliceLandmarks {
  /** Body centroid and its standard deviation along x and y. */
  cx: number;
  cy: number;
  sx: number;
  sy: number;
  /** Centroid of the bone near the body's midline (the body's centroid where there is none). */
  spineX: number;
  spineY: number;
}

/** The landmarks of one prepared slice. */
export function sliceLandmarks(slice: Float32Array): SliceLandmarks {
  let n = 0;
  let mx = 0;
  let my = 0;
  let mxx = 0;
  let myy = 0;
  for (let y = 0, i = 0; y < ROI; y++) {
    for (let x = 0; x < ROI; x++, i++) {
      if (slice[i]! > BODY_THRESHOLD) {
        n++;
        mx += x;
        my += y;
        mxx += x * x;
        myy += y * y;
      }
    }
  }
  if (n === 0) return { cx: ROI / 2, cy: ROI / 2, sx: ROI / 4, sy: ROI / 4, spineX: ROI / 2, spineY: ROI / 2 };
  const cx = mx / n;
  const cy = my / n;
  let bn = 0;
  let bx = 0;
  let by = 0;
  const x0 = Math.max(0, Math.ceil(cx - SPINE_BAND));
  const x1 = Math.min(ROI - 1, Math.floor(cx + SPINE_BAND));
  for (let y = 0; y < ROI; y++) {
    for (let x = x0; x <= x1; x++) {
      if (slice[y * ROI + x]! >= BONE_THRESHOLD) {
        bn++;
        bx += x;
        by += y;
      }
    }
  }
  return {
    cx,
    cy,
    sx: Math.sqrt(Math.max(1, mxx / n - cx * cx)),
    sy: Math.sqrt(Math.max(1, myy / n - cy * cy)),
    spineX: bn ? bx / bn : cx,
    spineY: bn ? by / bn : cy,
  };
}

/**
 * What the atlas reads of a whole volume, kept per slices array: each organ of a case, and each
 * query of an evaluation against one support, would otherwise scan the same volumes again.
 * Prepared slices are never changed once made.
 */
const anchors = new WeakMap<Float32Array, 'spine' | 'body'>();
const landmarks = new WeakMap<Float32Array, (SliceLandmarks | undefined)[]>();

/** 'spine' when the volume looks like windowed CT (its bone saturates), else 'body'. */
export function chooseAnchor(volume: AtlasSide['volume']): 'spine' | 'body' {
  if (volume.intensity === 'ct') return 'spine';
  const known = anchors.get(volume.slices);
  if (known) return known;
  const slices = volume.slices;
  let body = 0;
  let saturated = 0;
  for (let i = 0; i < slices.length; i++) {
    const v = slices[i]!;
    if (v > BODY_THRESHOLD) body++;
    if (v >= 1) saturated++;
  }
  const anchor = body > 0 && saturated / body >= SATURATED_BODY ? 'spine' : 'body';
  anchors.set(slices, anchor);
  return anchor;
}

/** The in-plane map from query pixels to support pixels: p ↦ to + scale·(p − shift − from). */
export interface AtlasTransform {
  anchor: 'spine' | 'body';
  from: [number, number];
  to: [number, number];
  scale: [number, number];
  /** The refinement's shift of the organ on the query, in ROI pixels (0, 0 before it). */
  shift: [number, number];
  /** The normalised cross-correlation the shift reached (null before the refinement). */
  ncc: number | null;
}

/** How far, in ROI pixels, the refinement looks around the organ and shifts it. */
export const REFINE_MARGIN = 10;
export const REFINE_SEARCH = 24;

/** What the atlas of one organ needs of a volume: its prepared slices and the organ's slice range. */
export interface AtlasSide {
  /** `intensity` 'ct' (from Hounsfield units) always anchors on the spine. */
  volume: Pick<PreparedVolume, 'slices' | 'nz'> & Partial<Pick<PreparedVolume, 'intensity'>>;
  range: [number, number];
}

/** The support slice that query slice `z` corresponds to: the same relative position in the organ's range. */
export function correspondingSlice(z: number, query: [number, number], support: [number, number]): number {
  const t = query[1] === query[0] ? 0.5 : (z - query[0]) / (query[1] - query[0]);
  return Math.round(support[0] + t * (support[1] - support[0]));
}

function meanLandmarks(volume: AtlasSide['volume'], zs: readonly number[]): SliceLandmarks {
  const sum: SliceLandmarks = { cx: 0, cy: 0, sx: 0, sy: 0, spineX: 0, spineY: 0 };
  let known = landmarks.get(volume.slices);
  if (!known) landmarks.set(volume.slices, (known = []));
  for (const z of zs) {
    const l = (known[z] ??= sliceLandmarks(volume.slices.subarray(z * PIXELS, (z + 1) * PIXELS)));
    for (const k of Object.keys(sum) as (keyof SliceLandmarks)[]) sum[k] += l[k] / zs.length;
  }
  return sum;
}

/** The transform of one organ's range: landmarks averaged over the corresponding slices of each side. */
export function atlasTransform(support: AtlasSide, query: AtlasSide, anchor: AtlasAnchor = 'auto'): AtlasTransform {
  const qz: number[] = [];
  for (let z = query.range[0]; z <= query.range[1]; z++) qz.push(z);
  const sz = qz.map((z) => correspondingSlice(z, query.range, support.range));
  const q = meanLandmarks(query.volume, qz);
  const s = meanLandmarks(support.volume, sz);
  const chosen = anchor !== 'auto' ? anchor : chooseAnchor(query.volume) === 'spine' && chooseAnchor(support.volume) === 'spine' ? 'spine' : 'body';
  const spine = chosen === 'spine';
  return {
    anchor: chosen,
    from: spine ? [q.spineX, q.spineY] : [q.cx, q.cy],
    to: spine ? [s.spineX, s.spineY] : [s.cx, s.cy],
    scale: [s.sx / q.sx, s.sy / q.sy],
    shift: [0, 0],
    ncc: null,
  };
}

/** The support pixel query pixel (x, y) maps to (may lie outside the slice). */
function mapped(t: AtlasTransform, x: number, y: number): [number, number] {
  return [Math.round(t.to[0] + t.scale[0] * (x - t.shift[0] - t.from[0])), Math.round(t.to[1] + t.scale[1] * (y - t.shift[1] - t.from[1]))];
}

/**
 * The landmarks place the body; the organ itself can sit a few centimetres off. This moves it:
 * the support's intensities around the organ (its box on each slice, `margin` pixels wider),
 * mapped onto the query, are shifted by up to `search` pixels, and the shift whose normalised
 * cross-correlation with the query's intensities, over all slices of the range at once, is
 * highest wins (a grid of 2 pixels, then 1 around the best). Samples every other pixel.
 */
export function refineShift(
  support: AtlasSide,
  supportMasks: Uint8Array,
  query: AtlasSide,
  transform: AtlasTransform,
  { margin = REFINE_MARGIN, search = REFINE_SEARCH } = {},
): AtlasTransform {
  const base = { ...transform, shift: [0, 0] as [number, number] };
  // Query column x maps to support column xs[x], row y to ys[y] (no rotation).
  const [xs, ys] = axisMaps(base);
  // The query slices of the range with a border of zeros wide enough for every shift looked at
  // (pixels shifted outside the slice count as 0), so no sample needs a bounds test.
  const pad = search + 2;
  const side = ROI + 2 * pad;
  const [q0, q1] = query.range;
  // The samples, every other query pixel whose support pixel lies within `margin` of the organ's
  // box on its slice: per slice, the rows and the columns that do (the box is a rectangle and the
  // axis maps are monotone, so the samples are every pair of them).
  const sampled: { z: number; from: number; rows: number[]; columns: number[] }[] = [];
  let n = 0;
  for (let z = q0; z <= q1; z++) {
    const zs = correspondingSlice(z, query.range, support.range);
    const box = maskBox(supportMasks.subarray(zs * PIXELS, (zs + 1) * PIXELS));
    if (!box) continue;
    const [X0, Y0, X1, Y1] = [
      Math.max(0, box[0] - margin),
      Math.max(0, box[1] - margin),
      Math.min(ROI - 1, box[2] + margin),
      Math.min(ROI - 1, box[3] + margin),
    ];
    const rows: number[] = [];
    const columns: number[] = [];
    for (let y = 0; y < ROI; y += 2) if (ys[y]! >= Y0 && ys[y]! <= Y1) rows.push(y);
    for (let x = 0; x < ROI; x += 2) if (xs[x]! >= X0 && xs[x]! <= X1) columns.push(x);
    sampled.push({ z, from: zs * PIXELS, rows, columns });
    n += rows.length * columns.length;
  }
  if (n < 2) return { ...base, ncc: null };
  // Per sample: its pixel's index in the padded query slices, and its support value (less the mean below).
  const index = new Int32Array(n);
  const centred = new Float64Array(n);
  let k = 0;
  for (const { z, from, rows, columns } of sampled) {
    for (const y of rows) {
      for (const x of columns) {
        index[k] = ((z - q0) * side + y + pad) * side + x + pad;
        centred[k++] = support.volume.slices[from + ys[y]! * ROI + xs[x]!]!;
      }
    }
  }
  let mean = 0;
  for (let i = 0; i < n; i++) mean += centred[i]! / n;
  let va = 0;
  for (let i = 0; i < n; i++) va += (centred[i]! - mean) ** 2;
  for (let i = 0; i < n; i++) centred[i] = centred[i]! - mean;
  const padded = new Float32Array((q1 - q0 + 1) * side * side);
  for (let z = q0; z <= q1; z++) {
    for (let y = 0; y < ROI; y++) {
      const from = z * PIXELS + y * ROI;
      padded.set(query.volume.slices.subarray(from, from + ROI), ((z - q0) * side + y + pad) * side + pad);
    }
  }
  const scores = new Float64Array(NCC_SHIFTS);
  let best = { dx: 0, dy: 0, ncc: shiftedNcc(padded, index, centred, va, [0], scores)[0]! };
  const look = (step: number, cx: number, cy: number, reach: number) => {
    for (let dy = cy - reach; dy <= cy + reach; dy += step) {
      for (let dx0 = cx - reach; dx0 <= cx + reach; dx0 += step * NCC_SHIFTS) {
        const dxs: number[] = [];
        for (let dx = dx0; dx <= Math.min(cx + reach, dx0 + step * (NCC_SHIFTS - 1)); dx += step) dxs.push(dx);
        shiftedNcc(
          padded,
          index,
          centred,
          va,
          dxs.map((dx) => dy * side + dx),
          scores,
        );
        dxs.forEach((dx, k) => {
          const ncc = scores[k]!;
          // Ties keep the smaller shift: the landmarks' placement stands unless the image says otherwise.
          if (ncc > best.ncc || (ncc === best.ncc && Math.hypot(dx, dy) < Math.hypot(best.dx, best.dy))) best = { dx, dy, ncc };
        });
      }
    }
  };
  look(2, 0, 0, search - (search % 2));
  look(1, best.dx, best.dy, 1);
  return { ...base, shift: [best.dx, best.dy], ncc: Number.isFinite(best.ncc) ? best.ncc : null };
}

/** The support column of each query column and the support row of each query row under `t` (`mapped`, one axis at a time). */
function axisMaps(t: AtlasTransform): [Int32Array, Int32Array] {
  return [Int32Array.from({ length: ROI }, (_, x) => mapped(t, x, 0)[0]), Int32Array.from({ length: ROI }, (_, y) => mapped(t, 0, y)[1])];
}

/** How many shifts `shiftedNcc` scores in one pass over the samples. */
export const NCC_SHIFTS = 4;

/**
 * The normalised cross-correlation of the samples' centred support values with the query's
 * intensities under them, for each of up to NCC_SHIFTS `offsets` further on in the padded slices,
 * into `out`. The shifts share one pass over the samples (their sums are independent, so the CPU
 * overlaps them; each is added up in sample order, so it is the number a pass of its own gives).
 * A function of its own, not a closure, so the JIT compiles it once for every organ and shift.
 */
export function shiftedNcc(
  padded: Float32Array,
  index: Int32Array,
  centred: Float64Array,
  va: number,
  offsets: readonly number[],
  out: Float64Array,
): Float64Array {
  const n = centred.length;
  // Missing shifts repeat the first (their sums are not read).
  const [o0 = 0, o1 = o0, o2 = o0, o3 = o0] = offsets;
  let sb0 = 0;
  let sbb0 = 0;
  let sab0 = 0;
  let sb1 = 0;
  let sbb1 = 0;
  let sab1 = 0;
  let sb2 = 0;
  let sbb2 = 0;
  let sab2 = 0;
  let sb3 = 0;
  let sbb3 = 0;
  let sab3 = 0;
  for (let i = 0; i < n; i++) {
    const j = index[i]!;
    const c = centred[i]!;
    const b0 = padded[j + o0]!;
    const b1 = padded[j + o1]!;
    const b2 = padded[j + o2]!;
    const b3 = padded[j + o3]!;
    sb0 += b0;
    sbb0 += b0 * b0;
    sab0 += c * b0;
    sb1 += b1;
    sbb1 += b1 * b1;
    sab1 += c * b1;
    sb2 += b2;
    sbb2 += b2 * b2;
    sab2 += c * b2;
    sb3 += b3;
    sbb3 += b3 * b3;
    sab3 += c * b3;
  }
  const ncc = (sb: number, sbb: number, sab: number) => {
    const vb = sbb - (sb * sb) / n;
    return va > 0 && vb > 0 ? sab / Math.sqrt(va * vb) : -Infinity;
  };
  out[0] = ncc(sb0, sbb0, sab0);
  out[1] = ncc(sb1, sbb1, sab1);
  out[2] = ncc(sb2, sbb2, sab2);
  out[3] = ncc(sb3, sbb3, sab3);
  return out;
}

/** The centroid (x, y) of a mask's set pixels (the slice's centre when there are none). */
function centroid(mask: Uint8Array): [number, number] {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < PIXELS; i++) {
    if (!mask[i]) continue;
    n++;
    sx += i % ROI;
    sy += (i / ROI) | 0;
  }
  return n > 0 ? [sx / n, sy / n] : [ROI / 2, ROI / 2];
}

/** The box [x0, y0, x1, y1] of a mask's set pixels (null: none). */
function maskBox(mask: Uint8Array): [number, number, number, number] | null {
  let x0 = ROI;
  let y0 = ROI;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < ROI; y++) {
    for (let x = 0; x < ROI; x++) {
      if (!mask[y * ROI + x]) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1];
}

/**
 * How much an organ is enlarged about its centroid on each slice before it becomes the atlas:
 * `growth`·(r / GROWTH_RADIUS)⁴, r the radius of a disc as large as the organ's largest support
 * slice. One translation and scale per organ leaves a large organ's outline off by many pixels
 * (its shape varies more between patients, its far edge lies further from the landmarks): a
 * liver (r ≈ 55–67 px) is enlarged to 2–3 times its width, so its atlas only rules out what lies
 * far from it, while a kidney (r ≈ 17–24 px) moves its outline by a pixel at most and a spleen
 * (19–30 px) by three. Tuned on the tuning folds (scripts/tune/README.md).
 */
export const GROWTH_RADIUS = ROI / 4;
export const GROWTH_EXPONENT = 4;

/** The factor `organAtlas` enlarges an organ by (0: as it is), from its support masks. */
export function organGrowth(supportMasks: Uint8Array, nz: number, growth: number): number {
  if (!(growth > 0)) return 0;
  let largest = 0;
  for (let z = 0; z < nz; z++) {
    let area = 0;
    for (let i = z * PIXELS; i < (z + 1) * PIXELS; i++) area += supportMasks[i] ? 1 : 0;
    largest = Math.max(largest, area);
  }
  return growth * (Math.sqrt(largest / Math.PI) / GROWTH_RADIUS) ** GROWTH_EXPONENT;
}

/**
 * The atlas of one organ: for each query slice of `query.range`, the fraction of each atlas cell (ATLAS_GRID²)
 * that the support's organ (`supportMasks`, [nz][ROI·ROI]) covers once its corresponding slice is
 * mapped onto the query's (nearest neighbour per pixel), enlarged by `grow` (organGrowth) about
 * that slice's centroid. [slices of the range][CELLS]. One transform (by default the auto anchor's,
 * shifted); the pipeline's atlas on CT is the mean of two (carriedAtlas, meanAtlas).
 */
export function organAtlas(
  support: AtlasSide,
  supportMasks: Uint8Array,
  query: AtlasSide,
  transform: AtlasTransform = refineShift(support, supportMasks, query, atlasTransform(support, query)),
  grow = 0,
): Float32Array[] {
  for (const [name, side] of [
    ['support', support],
    ['query', query],
  ] as const) {
    const [a, b] = side.range;
    if (!Number.isInteger(a) || !Number.isInteger(b) || a < 0 || b >= side.volume.nz || a > b) {
      throw new ShapeError('atlas', `${name} range ${a}..${b} is outside 0..${side.volume.nz - 1}`);
    }
  }
  if (supportMasks.length !== support.volume.nz * PIXELS) {
    throw new ShapeError('atlas', `support masks: ${support.volume.nz} slices of ${PIXELS} needed, got ${supportMasks.length} values`);
  }
  // Each query column/row maps to one support column/row (no rotation): two lookup tables.
  const [xs, ys] = axisMaps(transform);
  const cell = ROI / ATLAS_GRID;
  const out: Float32Array[] = [];
  for (let z = query.range[0]; z <= query.range[1]; z++) {
    // A support slice the organ skips lends the nearest one's outline: the organ is in this query slice's range.
    const zs = nearestOrganSlice(correspondingSlice(z, query.range, support.range), support.range, (k) => anySet(supportMasks, k * PIXELS, (k + 1) * PIXELS));
    const mask = supportMasks.subarray(zs * PIXELS);
    // Enlarging about the centroid: a support pixel is drawn from one 1/(1 + grow) as far from it.
    const [gx, gy] = grow > 0 ? centroid(mask) : [0, 0];
    const toward = (v: number, c: number) => (grow > 0 ? Math.round(c + (v - c) / (1 + grow)) : v);
    // The support column of each query column on this slice.
    const columns = xs.map((X) => toward(X, gx));
    const map = new Float32Array(ATLAS_CELLS);
    for (let y = 0; y < ROI; y++) {
      const Y = toward(ys[y]!, gy);
      if (Y < 0 || Y >= ROI) continue;
      const row = ((y / cell) | 0) * ATLAS_GRID;
      for (let x = 0; x < ROI; x++) {
        const X = columns[x]!;
        if (X >= 0 && X < ROI && mask[Y * ROI + X]) {
          const c = row + ((x / cell) | 0);
          map[c] = map[c]! + 1 / ATLAS_CELL_PIXELS;
        }
      }
    }
    out.push(map);
  }
  return out;
}

/**
 * The mean of two atlases of one organ (the same slices), each cell rounded to a whole pixel count
 * as organAtlas's are, so the mean crosses to the device as counts and both paths read the same
 * fractions. On CT the organ is carried from the spine and from the body's centre: each misplaces
 * a different organ on a different scan, and their mean keeps the organ whole where both agree
 * and at half where only one carries it (scripts/tune/README.md, "The two anchors").
 */
export function meanAtlas(a: readonly Float32Array[], b: readonly Float32Array[]): Float32Array[] {
  if (a.length !== b.length) throw new ShapeError('atlas', `two atlases of ${a.length} and ${b.length} slices cannot be averaged`);
  return a.map((map, z) => map.map((v, c) => Math.round(((v + b[z]![c]!) * ATLAS_CELL_PIXELS) / 2) / ATLAS_CELL_PIXELS));
}
