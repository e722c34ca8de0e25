/**
 * The support volume's organ carried onto the query (AtlasOptions): an anatomical prior that needs
 * no training. Along z, the slices correspond by their relative position in the organ's range (the
 * correspondence the 1-shot protocol already makes when it gives each third of the query's range
 * the support slice of the same third); in-plane, the support slice is mapped onto the query slice
 * by landmarks both volumes share:
 *  - `spine`: the vertebral column (the saturated bone near the body's midline on windowed CT),
 *    which sits between the kidneys at a nearly constant offset; the body's spread gives the scale;
 *  - `body`: the body's centroid and spread (MR, where bone is not bright).
 * Landmarks are averaged over each volume's slices of the range, so one transform serves the whole
 * range. The warped organ is then the fraction of each 64×64 cell it covers: the prior the fused
 * confidence is lowered away from (Synpo's `atlas` rows).
 */
import { ShapeError } from '@synpo/gpu';
import { CELLS, GRID, PIXELS, ROI } from './backend.ts';
import type { PreparedVolume } from './preprocess.ts';

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

/** 'spine' when the volume looks like windowed CT (its bone saturates), else 'body'. */
export function chooseAnchor(volume: AtlasSide['volume']): 'spine' | 'body' {
  if (volume.intensity === 'ct') return 'spine';
  let body = 0;
  let saturated = 0;
  for (const v of volume.slices) {
    if (v > BODY_THRESHOLD) body++;
    if (v >= 1) saturated++;
  }
  return body > 0 && saturated / body >= SATURATED_BODY ? 'spine' : 'body';
}

/** The in-plane map from query pixels to support pixels: p ↦ to + scale·(p − from). */
export interface AtlasTransform {
  anchor: 'spine' | 'body';
  from: [number, number];
  to: [number, number];
  scale: [number, number];
}

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
  for (const z of zs) {
    const l = sliceLandmarks(volume.slices.subarray(z * PIXELS, (z + 1) * PIXELS));
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
  };
}

/**
 * The atlas of one organ: for each query slice of `query.range`, the fraction of each 64×64 cell
 * that the support's organ (`supportMasks`, [nz][ROI·ROI]) covers once its corresponding slice is
 * mapped onto the query's (nearest neighbour per pixel). [slices of the range][CELLS].
 */
export function organAtlas(
  support: AtlasSide,
  supportMasks: Uint8Array,
  query: AtlasSide,
  transform: AtlasTransform = atlasTransform(support, query),
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
  const { from, to, scale } = transform;
  // Each query column/row maps to one support column/row (no rotation): two lookup tables.
  const xs = Int32Array.from({ length: ROI }, (_, x) => Math.round(to[0] + scale[0] * (x - from[0])));
  const ys = Int32Array.from({ length: ROI }, (_, y) => Math.round(to[1] + scale[1] * (y - from[1])));
  const cell = ROI / GRID;
  const out: Float32Array[] = [];
  for (let z = query.range[0]; z <= query.range[1]; z++) {
    const mask = supportMasks.subarray(correspondingSlice(z, query.range, support.range) * PIXELS);
    const map = new Float32Array(CELLS);
    for (let y = 0; y < ROI; y++) {
      const Y = ys[y]!;
      if (Y < 0 || Y >= ROI) continue;
      const row = ((y / cell) | 0) * GRID;
      for (let x = 0; x < ROI; x++) {
        const X = xs[x]!;
        if (X >= 0 && X < ROI && mask[Y * ROI + X]) {
          const c = row + ((x / cell) | 0);
          map[c] = map[c]! + 1 / (cell * cell);
        }
      }
    }
    out.push(map);
  }
  return out;
}
