/**
 * Where organs meet: combineOrgans gives a pixel that several organs' masks claim to the organ of
 * higher fused confidence there, bilinear from each organ's 64×64 map. These are the cells of
 * those maps that it reads, so that only they need to leave the device.
 */
import { bilinearTaps } from '@synpo/gpu/kernels';
import { CELLS, GRID, PIXELS, ROI } from './backend.ts';

const taps = bilinearTaps(GRID, ROI);

/**
 * For the masks of several organs on one slice ([ROI·ROI] each, one per organ), the cells of each
 * organ's fused map that the bilinear values at its shared pixels come from, as a 0/1 grid; null
 * for an organ that shares no pixel.
 */
export function sharedCells(masks: readonly Uint8Array[]): (Uint8Array | null)[] {
  const cells: (Uint8Array | null)[] = masks.map(() => null);
  if (masks.length < 2) return cells;
  for (let p = 0; p < PIXELS; p++) {
    let claims = 0;
    for (const m of masks) if (m[p]) claims++;
    if (claims < 2) continue;
    const y = (p / ROI) | 0;
    const x = p - y * ROI;
    const corners = [taps.lo[y]! * GRID + taps.lo[x]!, taps.lo[y]! * GRID + taps.hi[x]!, taps.hi[y]! * GRID + taps.lo[x]!, taps.hi[y]! * GRID + taps.hi[x]!];
    masks.forEach((m, o) => {
      if (!m[p]) return;
      const grid = (cells[o] ??= new Uint8Array(CELLS));
      for (const c of corners) grid[c] = 1;
    });
  }
  return cells;
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
    const slice = organMasks.map((m) => m.subarray(z * PIXELS, (z + 1) * PIXELS)).filter((m) => m.some((v) => v));
    for (const grid of sharedCells(slice)) if (grid) for (const v of grid) n += v;
  }
  return n;
}
