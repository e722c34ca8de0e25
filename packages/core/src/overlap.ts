/**
 * Where organs meet: combineOrgans gives a pixel that several organs' masks claim to the organ of
 * higher fused confidence there, bilinear from each organ's 64×64 map. These are the cells of
 * those maps that it reads, so that only they need to leave the device.
 */
import { bilinearTaps } from '@synpo/gpu/kernels';
import { CELLS, GRID, PIXELS, ROI } from './backend.ts';
import { anySet } from './protocol.ts';

const taps = bilinearTaps(GRID, ROI);

/**
 * For the masks of several organs on one slice ([ROI·ROI] each, one per organ), the cells of each
 * organ's fused map that the bilinear values at its shared pixels come from, as a 0/1 grid; null
 * for an organ that shares no pixel.
 */
export function sharedCells(masks: readonly Uint8Array[]): (Uint8Array | null)[] {
  const cells: (Uint8Array | null)[] = masks.map(() => null);
  if (masks.length < 2) return cells;
  const claims = new Uint8Array(PIXELS);
  for (const m of masks) for (let p = 0; p < PIXELS; p++) if (m[p]) claims[p] = claims[p]! + 1;
  masks.forEach((m, o) => {
    for (let p = 0; p < PIXELS; p++) {
      if (claims[p]! < 2 || !m[p]) continue;
      const y = (p / ROI) | 0;
      const x = p - y * ROI;
      const grid = (cells[o] ??= new Uint8Array(CELLS));
      const top = taps.lo[y]! * GRID;
      const bottom = taps.hi[y]! * GRID;
      grid[top + taps.lo[x]!] = grid[top + taps.hi[x]!] = grid[bottom + taps.lo[x]!] = grid[bottom + taps.hi[x]!] = 1;
    }
  });
  return cells;
}

/**
 * A 64×64 fused map's value at ROI pixel i: bilinear as the kernels upsample it (the float32 that
 * upsampleBilinearReference stores there, its loop written out for one pixel); −∞ when there is
 * no map. It reads only the four cells sharedCells marks for the pixel.
 */
export function confidenceAt(synmap: Float32Array | undefined, i: number): number {
  if (!synmap) return -Infinity;
  const y = (i / ROI) | 0;
  const x = i - y * ROI;
  const x0 = taps.lo[x]!;
  const x1 = taps.hi[x]!;
  const fx = taps.frac[x]!;
  const y0 = taps.lo[y]! * GRID;
  const y1 = taps.hi[y]! * GRID;
  const fy = taps.frac[y]!;
  const top = synmap[y0 + x0]! * (1 - fx) + synmap[y0 + x1]! * fx;
  const bottom = synmap[y1 + x0]! * (1 - fx) + synmap[y1 + x1]! * fx;
  return Math.fround(top * (1 - fy) + bottom * fy);
}

/** The needed cells of a grid as runs of neighbours along its rows (offset and length in cells). */
export function cellRuns(cells: Uint8Array): { offset: number; length: number }[] {
  const runs: { offset: number; length: number }[] = [];
  for (let c = 0; c < CELLS; c++) {
    if (!cells[c]) continue;
    const last = runs[runs.length - 1];
    if (last && last.offset + last.length === c && c % GRID !== 0) last.length++;
    else runs.push({ offset: c, length: 1 });
  }
  return runs;
}

/** How many cells sharedCells marks over a whole volume (organs' masks [nz][ROI·ROI] each). */
export function sharedCellCount(organMasks: readonly Uint8Array[], nz: number): number {
  let n = 0;
  for (let z = 0; z < nz; z++) {
    const slice = organMasks.filter((m) => anySet(m, z * PIXELS, (z + 1) * PIXELS)).map((m) => m.subarray(z * PIXELS, (z + 1) * PIXELS));
    for (const grid of sharedCells(slice)) if (grid) for (const v of grid) n += v;
  }
  return n;
}
