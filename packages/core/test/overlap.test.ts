/**
 * Where organs meet: the cells of the fused maps that combineOrgans reads are the ones
 * sharedCells marks, so maps holding only those cells give the same label volume.
 */
import { describe, expect, it } from 'vitest';
import { createRng } from '@synpo/gpu';
import { CELLS, combineOrgans, GRID, PIXELS, ROI } from '../src/index.ts';
import { cellRuns, sharedCellCount, sharedCells } from '../src/overlap.ts';

/** A filled disc on one ROI slice. */
function disc(cx: number, cy: number, r: number): Uint8Array {
  return Uint8Array.from({ length: PIXELS }, (_, p) => (((p % ROI) - cx) ** 2 + (Math.floor(p / ROI) - cy) ** 2 <= r * r ? 1 : 0));
}

function randomMap(seed: number): Float32Array {
  const rng = createRng(seed, 0);
  return Float32Array.from({ length: CELLS }, () => rng());
}

describe('sharedCells', () => {
  // Three organs on one slice: a and b overlap, b and c overlap, d touches nobody.
  const masks = [disc(80, 90, 40), disc(130, 100, 35), disc(150, 150, 30), disc(30, 220, 15)];
  const maps = masks.map((_, i) => randomMap(i + 1));
  const cells = sharedCells(masks);

  it('marks cells only for the organs that share a pixel', () => {
    expect(cells.map((c) => c !== null)).toEqual([true, true, true, false]);
    for (const c of cells) if (c) expect(c.some((v) => v)).toBe(true);
  });

  it('maps holding only the marked cells give combineOrgans the labels of the whole maps', () => {
    const organs = (keep: boolean) =>
      masks.map((m, i) => {
        const map = keep ? maps[i]! : maps[i]!.map((v, c) => (cells[i]?.[c] ? v : 0));
        return { value: i + 1, masks: m, confidence: new Map([[0, map]]) };
      });
    const whole = combineOrgans(organs(true), 1);
    const sparse = combineOrgans(organs(false), 1);
    expect(whole.overlapPixels).toBeGreaterThan(100);
    expect(Array.from(sparse.labels)).toEqual(Array.from(whole.labels));
    // and a marked cell does matter: changing one can change the labels
    const changed = masks.some((_, i) =>
      Array.from(cells[i] ?? []).some((v, c) => {
        if (!v) return false;
        const o = organs(true);
        o[i]!.confidence.get(0)![c] = i % 2 ? -1 : 2;
        return combineOrgans(o, 1).labels.some((l, p) => l !== whole.labels[p]);
      }),
    );
    expect(changed).toBe(true);
  });

  it('runs cover exactly the marked cells, never across a grid row', () => {
    for (const c of cells) {
      if (!c) continue;
      const covered = new Uint8Array(CELLS);
      for (const r of cellRuns(c)) {
        expect(Math.floor(r.offset / GRID)).toBe(Math.floor((r.offset + r.length - 1) / GRID));
        covered.fill(1, r.offset, r.offset + r.length);
      }
      expect(Array.from(covered)).toEqual(Array.from(c));
    }
  });

  it('counts the marked cells over a volume, slice by slice', () => {
    const volume = (i: number) => {
      const v = new Uint8Array(2 * PIXELS);
      v.set(masks[i]!, PIXELS); // slice 1 only
      return v;
    };
    const expected = cells.reduce((n, c) => n + (c ? c.reduce((a, v) => a + v, 0) : 0), 0);
    expect(sharedCellCount([0, 1, 2, 3].map(volume), 2)).toBe(expected);
    expect(sharedCellCount([volume(0), volume(3)], 2)).toBe(0);
  });
});
