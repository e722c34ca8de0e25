/**
 * The atlas prior (atlas.ts): slices correspond by their place in the organ's range, landmarks
 * map the support's slices onto the query's, and the warped organ is its cover of each cell.
 * Synthetic volumes whose geometry is known: a query made as a shifted, stretched support.
 */
import { createRng } from '@synpo/gpu';
import { describe, expect, it } from 'vitest';
import { ATLAS_CELLS, ATLAS_GRID, CELLS, GRID, PIXELS, ROI, weightFreeBackend } from '../src/index.ts';
import {
  ATLAS_CELL_PIXELS,
  atlasTransform,
  chooseAnchor,
  correspondingSlice,
  GROWTH_RADIUS,
  meanAtlas,
  NCC_SHIFTS,
  organAtlas,
  organGrowth,
  REFINE_MARGIN,
  REFINE_SEARCH,
  refineShift,
  shiftedNcc,
  sliceLandmarks,
} from '../src/atlas.ts';
import { carriedAtlas } from '../src/segment.ts';

/**
 * A body (ellipse, 0.3) with a spine (a bright disc near the midline, 1.0) and an organ (0.5)
 * beside it, each placed relative to the body's centre (cx, cy) with half-axes (ax, ay).
 */
function phantom(
  nz: number,
  cx: number,
  cy: number,
  ax: number,
  ay: number,
  organAt: [number, number] = [-0.45, 0.35],
): { slices: Float32Array; organ: Uint8Array } {
  const slices = new Float32Array(nz * PIXELS);
  const organ = new Uint8Array(nz * PIXELS);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ROI; y++) {
      for (let x = 0; x < ROI; x++) {
        const u = (x - cx) / ax;
        const v = (y - cy) / ay;
        const i = z * PIXELS + y * ROI + x;
        if (u * u + v * v > 1) continue;
        slices[i] = 0.3;
        if ((u - 0.0) ** 2 + (v - 0.5) ** 2 < 0.15 ** 2) slices[i] = 1; // spine (2 % of the body)
        if ((u - organAt[0]) ** 2 + (v - organAt[1]) ** 2 < 0.18 ** 2) {
          slices[i] = 0.5;
          organ[i] = 1;
        }
      }
    }
  }
  return { slices, organ };
}

function coverDice(map: Float32Array, truth: Uint8Array): number {
  const cell = ROI / ATLAS_GRID;
  const t = new Float32Array(ATLAS_CELLS);
  for (let p = 0; p < PIXELS; p++) if (truth[p]) t[Math.floor(Math.floor(p / ROI) / cell) * ATLAS_GRID + Math.floor((p % ROI) / cell)]! += 1 / (cell * cell);
  let inter = 0;
  let a = 0;
  let b = 0;
  for (let c = 0; c < ATLAS_CELLS; c++) {
    inter += Math.min(map[c]!, t[c]!);
    a += map[c]!;
    b += t[c]!;
  }
  return (2 * inter) / (a + b);
}

describe('the atlas prior', () => {
  it('maps query slices onto the support range by their relative position', () => {
    expect(correspondingSlice(10, [10, 20], [30, 50])).toBe(30);
    expect(correspondingSlice(20, [10, 20], [30, 50])).toBe(50);
    expect(correspondingSlice(15, [10, 20], [30, 50])).toBe(40);
    expect(correspondingSlice(7, [7, 7], [30, 50])).toBe(40);
  });

  it('finds the body and the spine of a slice', () => {
    const { slices } = phantom(1, 120, 130, 80, 60);
    const l = sliceLandmarks(slices);
    expect(l.cx).toBeCloseTo(120, 0);
    expect(l.spineX).toBeCloseTo(120, 0);
    expect(l.spineY).toBeCloseTo(130 + 0.5 * 60, 0);
    // the spread of a filled ellipse is half its half-axis
    expect(l.sx).toBeCloseTo(40, 0);
    expect(l.sy).toBeCloseTo(30, 0);
  });

  it('takes the spine where bone saturates, the body where it does not', () => {
    const { slices } = phantom(2, 128, 128, 80, 60);
    expect(chooseAnchor({ slices, nz: 2, intensity: 'mr' })).toBe('spine');
    const dull = slices.map((v) => (v === 1 ? 0.6 : v));
    expect(chooseAnchor({ slices: dull, nz: 2, intensity: 'mr' })).toBe('body');
    expect(chooseAnchor({ slices: dull, nz: 2, intensity: 'ct' })).toBe('spine');
  });

  it('carries the support organ onto a shifted, stretched query', () => {
    const support = phantom(12, 128, 120, 90, 60);
    const query = phantom(20, 110, 140, 70, 55);
    const side = (v: { slices: Float32Array }, nz: number, range: [number, number]) => ({ volume: { slices: v.slices, nz, intensity: 'mr' as const }, range });
    for (const anchor of ['spine', 'body'] as const) {
      const transform = atlasTransform(side(support, 12, [2, 9]), side(query, 20, [5, 15]), anchor);
      expect(transform.shift).toEqual([0, 0]);
      expect(transform.anchor).toBe(anchor);
      expect(transform.scale[0]).toBeCloseTo(90 / 70, 1);
      expect(transform.scale[1]).toBeCloseTo(60 / 55, 1);
      const maps = organAtlas(side(support, 12, [2, 9]), support.organ, side(query, 20, [5, 15]), transform);
      expect(maps).toHaveLength(11);
      for (const [i, map] of maps.entries()) {
        expect(map).toHaveLength(ATLAS_CELLS);
        expect(coverDice(map, query.organ.subarray((5 + i) * PIXELS, (6 + i) * PIXELS))).toBeGreaterThan(0.9);
      }
    }
    // without the landmarks (the support's organ where it lies) the same organ barely overlaps
    const still = organAtlas(side(support, 12, [2, 9]), support.organ, side(query, 20, [5, 15]), {
      anchor: 'body',
      from: [0, 0],
      to: [0, 0],
      scale: [1, 1],
      shift: [0, 0],
      ncc: null,
    });
    expect(coverDice(still[0]!, query.organ.subarray(5 * PIXELS, 6 * PIXELS))).toBeLessThan(0.5);
  });

  it('a support slice the organ skips lends the nearest organ slice its outline (the lower of two as near)', () => {
    const support = phantom(12, 128, 120, 90, 60);
    const query = phantom(20, 110, 140, 70, 55);
    const side = (v: { slices: Float32Array }, nz: number, range: [number, number]) => ({ volume: { slices: v.slices, nz, intensity: 'mr' as const }, range });
    const transform = atlasTransform(side(support, 12, [2, 9]), side(query, 20, [5, 15]), 'body');
    const gap = support.organ.slice();
    gap.fill(0, 5 * PIXELS, 6 * PIXELS);
    const lent = support.organ.slice();
    lent.copyWithin(5 * PIXELS, 4 * PIXELS, 5 * PIXELS);
    const maps = organAtlas(side(support, 12, [2, 9]), gap, side(query, 20, [5, 15]), transform);
    expect(maps).toEqual(organAtlas(side(support, 12, [2, 9]), lent, side(query, 20, [5, 15]), transform));
    for (const map of maps) expect(map.some((v) => v > 0)).toBe(true);
  });

  it('moves the organ to where the images around it agree when it sits off the landmarks', () => {
    const support = phantom(10, 128, 120, 90, 60);
    // The query's organ lies 0.2 half-axes further out and 0.1 lower than the support's (18, 6 px).
    const query = phantom(10, 128, 120, 90, 60, [-0.65, 0.45]);
    const side = (v: { slices: Float32Array }) => ({ volume: { slices: v.slices, nz: 10, intensity: 'mr' as const }, range: [2, 7] as [number, number] });
    const placed = atlasTransform(side(support), side(query));
    const refined = refineShift(side(support), support.organ, side(query), placed);
    expect(refined.shift[0]).toBeCloseTo(-18, -1);
    expect(refined.shift[1]).toBeCloseTo(6, -1);
    expect(refined.ncc).toBeGreaterThan(0.5);
    const truth = query.organ.subarray(4 * PIXELS, 5 * PIXELS);
    const before = coverDice(organAtlas(side(support), support.organ, side(query), placed)[2]!, truth);
    const after = coverDice(organAtlas(side(support), support.organ, side(query), refined)[2]!, truth);
    expect(before).toBeLessThan(0.5);
    expect(after).toBeGreaterThan(0.9);
    // the default transform is the refined one
    expect(organAtlas(side(support), support.organ, side(query))[2]).toEqual(organAtlas(side(support), support.organ, side(query), refined)[2]);
  });

  it('scores several shifts in one pass exactly as each shift alone', () => {
    const rng = createRng(3);
    const padded = Float32Array.from({ length: 4000 }, () => rng());
    const index = Int32Array.from({ length: 500 }, () => 100 + Math.floor(rng() * 3700));
    const centred = Float64Array.from({ length: 500 }, () => rng() - 0.5);
    const va = centred.reduce((s, c) => s + c * c, 0);
    // One shift's NCC, its sums added in sample order.
    const alone = (offset: number) => {
      let [sb, sbb, sab] = [0, 0, 0];
      for (let i = 0; i < index.length; i++) {
        const b = padded[index[i]! + offset]!;
        sb += b;
        sbb += b * b;
        sab += centred[i]! * b;
      }
      return sab / Math.sqrt(va * (sbb - (sb * sb) / index.length));
    };
    const out = new Float64Array(NCC_SHIFTS);
    for (const offsets of [[0], [-7, 31], [5, -60, 12], [-90, -2, 44, 97]]) {
      shiftedNcc(padded, index, centred, va, offsets, out);
      offsets.forEach((o, k) => expect(out[k]).toBe(alone(o)));
    }
  });

  it('finds the shift a correlation of each shift on its own would choose', () => {
    // Textured phantoms, so that every shift scores differently.
    const rng = createRng(7);
    const textured = (v: { slices: Float32Array; organ: Uint8Array }) => {
      for (let i = 0; i < v.slices.length; i++) if (v.slices[i]! > 0) v.slices[i] = v.slices[i]! + 0.1 * rng();
      return v;
    };
    const support = textured(phantom(6, 128, 120, 90, 60));
    const query = textured(phantom(6, 122, 126, 84, 64, [-0.55, 0.4]));
    const side = (v: { slices: Float32Array }) => ({ volume: { slices: v.slices, nz: 6, intensity: 'mr' as const }, range: [1, 4] as [number, number] });
    const placed = atlasTransform(side(support), side(query));
    const refined = refineShift(side(support), support.organ, side(query), placed);
    // The samples, plainly: every other query pixel whose support pixel (under the landmarks'
    // transform) lies within the margin of the organ's box on its slice.
    const at = (p: number, axis: 0 | 1) => Math.round(placed.to[axis] + placed.scale[axis] * (p - placed.from[axis]));
    const samples: { z: number; x: number; y: number; value: number }[] = [];
    for (let z = 1; z <= 4; z++) {
      const organ = support.organ.subarray(z * PIXELS, (z + 1) * PIXELS);
      let [x0, y0, x1, y1] = [ROI, ROI, -1, -1];
      for (let p = 0; p < PIXELS; p++) {
        if (!organ[p]) continue;
        [x0, y0, x1, y1] = [Math.min(x0, p % ROI), Math.min(y0, Math.floor(p / ROI)), Math.max(x1, p % ROI), Math.max(y1, Math.floor(p / ROI))];
      }
      for (let y = 0; y < ROI; y += 2) {
        for (let x = 0; x < ROI; x += 2) {
          const [X, Y] = [at(x, 0), at(y, 1)];
          if (X < Math.max(0, x0 - REFINE_MARGIN) || X > Math.min(ROI - 1, x1 + REFINE_MARGIN)) continue;
          if (Y < Math.max(0, y0 - REFINE_MARGIN) || Y > Math.min(ROI - 1, y1 + REFINE_MARGIN)) continue;
          samples.push({ z, x, y, value: support.slices[z * PIXELS + Y * ROI + X]! });
        }
      }
    }
    const ncc = (dx: number, dy: number) => {
      const a = samples.map((s) => s.value);
      const b = samples.map(({ z, x, y }) =>
        x + dx >= 0 && x + dx < ROI && y + dy >= 0 && y + dy < ROI ? query.slices[z * PIXELS + (y + dy) * ROI + x + dx]! : 0,
      );
      const mean = (v: number[]) => v.reduce((s, e) => s + e, 0) / v.length;
      const [ma, mb] = [mean(a), mean(b)];
      let [ab, aa, bb] = [0, 0, 0];
      a.forEach((_, i) => {
        ab += (a[i]! - ma) * (b[i]! - mb);
        aa += (a[i]! - ma) ** 2;
        bb += (b[i]! - mb) ** 2;
      });
      return ab / Math.sqrt(aa * bb);
    };
    // A grid of 2 pixels, then 1 around the best.
    let best = { dx: 0, dy: 0, ncc: ncc(0, 0) };
    const look = (step: number, cx: number, cy: number, reach: number) => {
      for (let dy = cy - reach; dy <= cy + reach; dy += step) {
        for (let dx = cx - reach; dx <= cx + reach; dx += step) {
          const score = ncc(dx, dy);
          if (score > best.ncc) best = { dx, dy, ncc: score };
        }
      }
    };
    look(2, 0, 0, REFINE_SEARCH);
    look(1, best.dx, best.dy, 1);
    expect(refined.shift).toEqual([best.dx, best.dy]);
    expect(refined.ncc).toBeCloseTo(best.ncc, 9);
    expect(best.dx !== 0 || best.dy !== 0).toBe(true);
  });

  it('enlarges a large organ about its centroid and leaves a small one nearly as it is', () => {
    const disc = (r: number, cx = 100, cy = 140) => {
      const m = new Uint8Array(2 * PIXELS);
      for (let z = 0; z < 2; z++)
        for (let y = 0; y < ROI; y++) for (let x = 0; x < ROI; x++) if ((x - cx) ** 2 + (y - cy) ** 2 < r * r) m[z * PIXELS + y * ROI + x] = 1;
      return m;
    };
    // growth·(r / GROWTH_RADIUS)⁴ from the largest slice's area
    expect(organGrowth(disc(GROWTH_RADIUS), 2, 1.8)).toBeCloseTo(1.8, 1);
    expect(organGrowth(disc(GROWTH_RADIUS / 2), 2, 1.8)).toBeCloseTo(1.8 / 16, 2);
    expect(organGrowth(disc(40), 2, 0)).toBe(0);
    const body = new Float32Array(2 * PIXELS).fill(0.3);
    const side = { volume: { slices: body, nz: 2, intensity: 'mr' as const }, range: [0, 1] as [number, number] };
    const identity = {
      anchor: 'body' as const,
      from: [0, 0] as [number, number],
      to: [0, 0] as [number, number],
      scale: [1, 1] as [number, number],
      shift: [0, 0] as [number, number],
      ncc: null,
    };
    const organ = disc(24);
    const cover = (map: Float32Array) => map.reduce((a, v) => a + v, 0);
    const centre = (map: Float32Array) => {
      let sx = 0;
      let sy = 0;
      map.forEach((v, c) => {
        sx += v * (c % ATLAS_GRID);
        sy += v * Math.floor(c / ATLAS_GRID);
      });
      return [sx / cover(map), sy / cover(map)];
    };
    const [plain] = organAtlas(side, organ, side, identity);
    const [grown] = organAtlas(side, organ, side, identity, 0.5);
    // area × (1 + grow)², the centroid kept (within a pixel of the 16-pixel cells)
    expect(cover(grown!) / cover(plain!)).toBeCloseTo(2.25, 1);
    const [a, b] = [centre(plain!), centre(grown!)];
    expect(Math.abs(a[0]! - b[0]!)).toBeLessThan(1 / 16);
    expect(Math.abs(a[1]! - b[1]!)).toBeLessThan(1 / 16);
    // and nothing set where the organ is not: every grown cell lies within 1.5 radii of the centre
    grown!.forEach((v, c) => {
      if (v > 0) expect(Math.hypot((c % ATLAS_GRID) * 16 + 8 - 100, Math.floor(c / ATLAS_GRID) * 16 + 8 - 140)).toBeLessThan(1.5 * 24 + 12);
    });
  });

  it("moves the position encoder's cue onto the atlas: the prototype's position channels point at the given cells, the rest unchanged", () => {
    const sam = weightFreeBackend().sam;
    const place = sam.placePrototype!.bind(sam);
    const region = (x0: number, x1: number) => Float32Array.from({ length: CELLS }, (_, c) => (c % GRID >= x0 && c % GRID < x1 ? 1 : 0));
    // A prototype whose spatial cue is the grid's left quarter, its other channels arbitrary.
    const base = Float32Array.from({ length: sam.channels }, (_, k) => Math.sin(k + 1));
    const left = place(base, region(0, GRID / 4));
    const right = place(left, region((3 * GRID) / 4, GRID));
    const Cp = sam.channels - Array.from(base).findIndex((v, k) => left[k] !== v);
    expect(Cp).toBeGreaterThan(2);
    const first = sam.channels - Cp;
    const norm = (p: Float32Array) => Math.hypot(...p.subarray(first));
    // the first position channel is x in [−1, 1]: the cue moved from the left to the right
    expect(left[first]! / norm(left)).toBeLessThan(-0.3);
    expect(right[first]! / norm(right)).toBeGreaterThan(0.3);
    expect(Array.from(right.subarray(0, first))).toEqual(Array.from(base.subarray(0, first)));
    expect(norm(right)).toBeCloseTo(norm(base), 4);
    // no cells: the prototype as it was; wrong sizes refused
    expect(place(base, new Float32Array(CELLS))).toBe(base);
    expect(() => place(base, new Float32Array(10))).toThrow(/placePrototype takes/);
  });

  it('averages two atlases cell by cell in whole pixel counts, and refuses two of different lengths', () => {
    const px = 1 / ATLAS_CELL_PIXELS; // one pixel of a cell
    const a = new Float32Array(ATLAS_CELLS);
    const b = new Float32Array(ATLAS_CELLS);
    [a[0], b[0]] = [1, 1];
    [a[1], b[1]] = [1, 0];
    [a[2], b[2]] = [px, 2 * px]; // 1.5 pixels: rounded up to 2
    [a[3], b[3]] = [0, 3 * px];
    const [m] = meanAtlas([a], [b]);
    expect(Array.from(m!.subarray(0, 5))).toEqual([1, 0.5, 2 * px, 2 * px, 0]);
    expect(() => meanAtlas([a, a], [b])).toThrow(/2 and 1 slices/);
  });

  it('on CT carries the organ from the spine and from the body, its atlas their mean; on MR from the body alone', () => {
    // A second bright disc on the query (bone or contrast) moves its spine landmark 27 pixels
    // forward, further than the shift search reaches: the two anchors place the organ apart.
    const support = phantom(8, 128, 120, 90, 60);
    const query = phantom(8, 120, 130, 80, 55);
    for (let z = 0; z < 8; z++) {
      for (let y = 0; y < ROI; y++) {
        for (let x = 0; x < ROI; x++) if (((x - 120) / 80) ** 2 + ((y - 130) / 55 + 0.5) ** 2 < 0.15 ** 2) query.slices[z * PIXELS + y * ROI + x] = 1;
      }
    }
    const volume = (v: { slices: Float32Array }, intensity: 'ct' | 'mr') => ({ slices: v.slices, nz: 8, intensity });
    const ct = carriedAtlas(volume(support, 'ct'), support.organ, volume(query, 'ct'), [1, 6], 0);
    const body = ct.transform.body!;
    expect([ct.transform.anchor, body.anchor]).toEqual(['spine', 'body']);
    expect(body.to).not.toEqual(ct.transform.to);
    const [s, q] = [
      { volume: volume(support, 'ct'), range: [0, 7] as [number, number] },
      { volume: volume(query, 'ct'), range: [1, 6] as [number, number] },
    ];
    const fromSpine = organAtlas(s, support.organ, q, ct.transform);
    const fromBody = organAtlas(s, support.organ, q, body);
    let apart = 0;
    for (const [z, map] of ct.maps.entries()) {
      for (let c = 0; c < ATLAS_CELLS; c++) {
        const counts = [fromSpine[z]![c]!, fromBody[z]![c]!].map((v) => Math.round(v * ATLAS_CELL_PIXELS));
        expect(map[c]! * ATLAS_CELL_PIXELS).toBe(Math.round((counts[0]! + counts[1]!) / 2));
        if (counts[0] !== counts[1]) apart++;
      }
    }
    expect(apart).toBeGreaterThan(0); // the anchors disagree somewhere, so the mean is neither alone
    // MR (bone not saturated): the body alone, its map as organAtlas makes it.
    const dull = (v: { slices: Float32Array }) => volume({ slices: v.slices.map((x) => (x === 1 ? 0.6 : x)) }, 'mr');
    const [sm, qm] = [dull(support), dull(query)];
    const mr = carriedAtlas(sm, support.organ, qm, [1, 6], 0);
    expect([mr.transform.anchor, mr.transform.body]).toEqual(['body', undefined]);
    expect(mr.maps).toEqual(organAtlas({ volume: sm, range: [0, 7] }, support.organ, { volume: qm, range: [1, 6] }, mr.transform));
  });

  it('refuses ranges outside the volumes and masks of the wrong size', () => {
    const v = phantom(4, 128, 128, 80, 60);
    const side = (range: [number, number]) => ({ volume: { slices: v.slices, nz: 4, intensity: 'mr' as const }, range });
    expect(() => organAtlas(side([0, 4]), v.organ, side([0, 3]))).toThrow(/support range 0..4 is outside 0..3/);
    expect(() => organAtlas(side([0, 3]), v.organ, side([2, 1]))).toThrow(/query range 2..1/);
    expect(() => organAtlas(side([0, 3]), v.organ.subarray(PIXELS), side([0, 3]))).toThrow(/support masks/);
  });
});
