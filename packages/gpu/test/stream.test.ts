/**
 * The device-resident layer: every stream operation on the GPU against the same operation on the
 * CPU references (table-driven, awkward sizes), the kernels new to the chain against their
 * references, tensors that stay on the device, and two chains in flight at once.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import {
  areaThresholdReference,
  bestRootsReference,
  CpuStream,
  createRng,
  drawIntegers,
  GpuRuntime,
  GpuStream,
  HostTensor,
  kmeansPlusPlusFromDraws,
  lloydReference,
  NO_COMPONENT,
  RANDOM_WALKER_CHECKS,
  packBitsReference,
  packBytesReference,
  recordComponents,
  recordBestComponent,
  recordPack,
  refineSpec,
  type T,
  type TensorStream,
} from '../src/index.ts';
import { discMask, expectClose, randomArray, randomMask, useGpu } from './gpu.ts';

const gpu = useGpu();

/** Runs `f` on a fresh GPU stream and on the CPU stream; returns both results read to the host. */
async function both<R>(ctx: TestContext, f: (s: TensorStream) => Promise<R> | R): Promise<{ g: R; c: R } | null> {
  if (!gpu.current) {
    ctx.skip(gpu.skipReason);
    return null;
  }
  const s = new GpuStream(gpu.current.runtime, 'test');
  try {
    const g = await f(s);
    const c = await f(new CpuStream());
    return { g, c };
  } finally {
    s.end();
  }
}

const read = <D extends 'f32' | 'u32' | 'mask'>(s: TensorStream, t: T<D>) => s.read(t);

describe('stream operations agree with the CPU references', () => {
  for (const [B, n, m] of [
    [1, 1, 1],
    [1, 40, 32],
    [3, 4096, 32],
    [2, 100, 100],
    [5, 333, 7],
  ] as const) {
    it(`sampleRows B=${B} n=${n} m=${m}`, async (ctx) => {
      const rng = createRng(B * 1000 + n);
      const counts = Uint32Array.from({ length: B }, (_, b) => (b === 0 ? n : Math.floor(rng() * (n + 1))));
      const indices = new Uint32Array(B * n);
      for (let b = 0; b < B; b++) {
        let v = 0;
        for (let i = 0; i < n; i++) indices[b * n + i] = v += 1 + Math.floor(rng() * 3);
      }
      const draws = drawIntegers(createRng(7, B), B * m);
      const r = await both(ctx, async (s) => {
        const out = s.sampleRows(s.upload(indices, [B, n]), s.upload(counts, [B]), { B, n, m }, s.upload(draws, [B, m]));
        const c = await read(s, out.counts);
        const idx = await read(s, out.indices);
        return Array.from({ length: B }, (_, b) => Array.from(idx.subarray(b * n, b * n + c[b]!)));
      });
      if (r) expect(r.g).toEqual(r.c);
    });
  }

  for (const [B, n, G] of [
    [1, 1, 64],
    [4, 32, 64],
    [2, 65, 7],
    [3, 1500, 1024],
  ] as const) {
    it(`cellPoints B=${B} n=${n} G=${G}`, async (ctx) => {
      const rng = createRng(n);
      const indices = Uint32Array.from({ length: B * n }, () => Math.floor(rng() * G * G));
      const counts = Uint32Array.from({ length: B }, (_, b) => (b % 2 ? Math.floor(n / 2) : n));
      const r = await both(ctx, async (s) => {
        const out = s.cellPoints(s.upload(indices, [B, n]), s.upload(counts, [B]), { B, n, G });
        const c = await read(s, out.counts);
        const p = await read(s, out.points);
        return Array.from({ length: B }, (_, b) => Array.from(p.subarray(2 * b * n, 2 * (b * n + c[b]!))));
      });
      if (r) expect(r.g).toEqual(r.c);
    });
  }

  for (const [B, n, k] of [
    [1, 1, 1],
    [4, 32, 4],
    [2, 3, 8],
    [3, 200, 6],
    [1, 1024, 4],
  ] as const) {
    it(`kmeans with k-means++ on the device, B=${B} n=${n} k=${k} (grid points: exact)`, async (ctx) => {
      const rng = createRng(n * 31 + k);
      const points = Float32Array.from({ length: B * n * 2 }, () => Math.floor(rng() * 64));
      const counts = Uint32Array.from({ length: B }, (_, b) => Math.max(1, n - b));
      const draws = drawIntegers(createRng(k, n), B * k);
      const r = await both(ctx, async (s) => {
        const out = s.kmeans(s.upload(points, [B, n, 2]), s.upload(counts, [B]), { B, n, k }, s.upload(draws, [B, k]), 100);
        return { centroids: Array.from(await read(s, out.centroids)), sizes: Array.from(await read(s, out.sizes)) };
      });
      if (!r) return;
      expect(r.g.sizes).toEqual(r.c.sizes);
      // Only live centres carry meaning.
      r.g.sizes.forEach((size, slot) => {
        if (size > 0) expect([r.g.centroids[2 * slot], r.g.centroids[2 * slot + 1]]).toEqual([r.c.centroids[2 * slot], r.c.centroids[2 * slot + 1]]);
      });
      // And the CPU stream is the seeding + Lloyd references.
      const row = points.subarray(0, counts[0]! * 2);
      const seeds = kmeansPlusPlusFromDraws(row, k, draws.subarray(0, k));
      const ref = lloydReference(row, seeds, 100);
      const sizes = new Array(k).fill(0);
      for (const a of ref.assign) sizes[a]++;
      expect(r.c.sizes.slice(0, k)).toEqual(sizes);
    });
  }

  for (const [B, P] of [
    [1, 1],
    [2, 65536],
    [3, 1000],
  ] as const) {
    it(`prior B=${B} P=${P}`, async (ctx) => {
      const maps = randomArray(B * P, P, -0.5, 1);
      const top = Float32Array.from({ length: 3 * B }, (_, i) => (i % 3 === 1 ? 0.6 + 0.1 * i : 32));
      const mus = Float32Array.from({ length: B }, (_, b) => 0.1 + 0.05 * b); // rows of different supports
      const r = await both(ctx, (s) => read(s, s.prior(s.upload(maps, [B, P]), s.upload(top, [B, 3]), { B, P }, s.upload(mus, [B]), 8)));
      if (r) expectClose(r.g, r.c, 1e-6, 1e-5);
    });
  }

  // Rows: no target (the fallback), a target inside the range, one clamped above, one clamped
  // below, a target larger than the row, values outside [0, 1], and ties on a bin edge.
  for (const [B, P] of [
    [1, 1],
    [6, 65536],
    [3, 1000],
  ] as const) {
    it(`areaThreshold B=${B} P=${P}`, async (ctx) => {
      const values = randomArray(B * P, 40 + P, -0.1, 1.1);
      values.fill(0.5, 0, Math.min(P, 300)); // many values on the edge of bin 128
      const targets = Float32Array.from({ length: B }, (_, b) => [0, 0.3 * P, 0.01 * P, 0.95 * P, 2 * P, 7][b % 6]!);
      const o = { lo: 0.3, hi: 0.7, fallback: 0.5 };
      const r = await both(ctx, (s) => read(s, s.areaThreshold(s.upload(values, [B, P]), s.upload(targets, [B]), { B, P }, o)));
      if (!r) return;
      expect(Array.from(r.g)).toEqual(Array.from(r.c));
      // The reference's meaning, checked directly: the row's area is the target's, as far as the range lets it.
      for (let b = 0; b < B; b++) {
        const row = values.subarray(b * P, (b + 1) * P);
        const area = r.c.subarray(b * P, (b + 1) * P).reduce((a, v) => a + v, 0);
        const over = (t: number) => row.reduce((a, v) => a + (v > t ? 1 : 0), 0);
        if (targets[b] === 0) expect(area).toBe(over(0.5));
        else {
          expect(area).toBeLessThanOrEqual(over(0.3));
          expect(area).toBeGreaterThanOrEqual(over(0.7));
          if (over(0.7) < targets[b]! && over(0.3) > targets[b]! + P / 100) expect(Math.abs(area - targets[b]!)).toBeLessThanOrEqual(P / 100 + 300);
        }
      }
    });
  }

  for (const [B, H, G] of [
    [1, 4, 1],
    [2, 256, 64],
    [3, 36, 12],
  ] as const) {
    it(`poolMask and guidePenalty B=${B} ${H}×${H} onto ${G}×${G}`, async (ctx) => {
      const masks = randomMask(B * H * H, 90 + H, 0.3);
      if (B > 1) masks.fill(0, H * H, 2 * H * H); // an empty guide: the row is copied
      const maps = randomArray(B * G * G, 91 + G, -0.3, 0.8);
      const r = await both(ctx, async (s) => {
        const pooled = s.poolMask(s.upload(masks, [B, H * H]), { B, H, W: H, G });
        const out = s.guidePenalty(s.upload(maps, [B, G * G]), pooled, { B, N: G * G }, 0.2);
        return { pooled: await read(s, pooled), out: await read(s, out) };
      });
      if (!r) return;
      expect(Array.from(r.g.pooled)).toEqual(Array.from(r.c.pooled));
      expectClose(r.g.out, r.c.out, 1e-6, 1e-6);
      // Meaning: a cell that is all guide keeps its value; an empty guide row is unchanged.
      const full = Array.from(r.c.pooled.subarray(0, G * G)).indexOf(Math.max(...r.c.pooled.subarray(0, G * G)));
      expect(r.c.out[full]).toBeCloseTo(maps[full]!, 6);
      if (B > 1) expect(Array.from(r.c.out.subarray(G * G, 2 * G * G))).toEqual(Array.from(maps.subarray(G * G, 2 * G * G)));
    });
  }

  it('areaThreshold refuses a range with lo > hi and mismatched lengths', async (ctx) => {
    await both(ctx, async (s) => {
      expect(() =>
        s.areaThreshold(s.upload(new Float32Array(4), [2, 2]), s.upload(new Float32Array(2), [2]), { B: 2, P: 2 }, { lo: 0.7, hi: 0.3, fallback: 0.5 }),
      ).toThrow(/lo ≤ hi/);
      return null;
    });
    expect(() => areaThresholdReference(new Float32Array(4), new Float32Array(3), 2, 2, { lo: 0, hi: 1, fallback: 0.5 })).toThrow(/targets/);
  });

  it('threshold over more than 65,535 workgroups (and a mask read packed from as many words)', async (ctx) => {
    const n = 65536 * 64 + 77;
    const values = randomArray(n, 3);
    const r = await both(ctx, (s) => read(s, s.threshold(s.upload(values, [n]), 0.25)));
    if (!r) return;
    expect(r.g.length).toBe(n);
    expect(Buffer.from(r.g).equals(Buffer.from(r.c))).toBe(true);
  });

  for (const [B, H, W] of [
    [1, 1, 1],
    [1, 256, 256],
    [3, 37, 53],
  ] as const) {
    it(`bestComponent and keepRows B=${B} ${H}×${W}`, async (ctx) => {
      const P = H * W;
      const masks = randomMask(B * P, H * W + B, 0.45);
      if (B > 1) masks.fill(0, P, 2 * P); // an empty row: no component
      const values = randomArray(B * P, 5, 0, 1);
      const r = await both(ctx, async (s) => {
        const best = s.bestComponent(s.upload(masks, [B, P]), s.upload(values, [B, P]), { B, H, W }, 8);
        const kept = s.keepRows(s.upload(masks, [B, P]), best.found, { B, P });
        return { mask: Array.from(await read(s, best.mask)), found: Array.from(await read(s, best.found)), kept: Array.from(await read(s, kept)) };
      });
      if (!r) return;
      expect(r.g.mask).toEqual(r.c.mask);
      expect(r.g.found.map((f) => f === NO_COMPONENT)).toEqual(r.c.found.map((f) => f === NO_COMPONENT));
      expect(r.g.kept).toEqual(r.c.kept);
      if (B > 1) expect(r.g.found[1]).toBe(NO_COMPONENT);
    });
  }

  it('decoderInputs: shrunk slice, blended prior, seeds from the box and the points', async (ctx) => {
    const B = 2;
    const S = 256;
    const image = randomArray(B * S * S, 11, 0, 1);
    const prior = randomArray(B * S * S, 12, 0, 1);
    const mask = new Uint8Array(B * S * S);
    mask.set(discMask(S, S, 120, 100, 40), 0);
    const P = 3;
    // Row 0: a box and three points (negative first); row 1: no box, one valid point.
    const prompts = Float32Array.of(60, 200, 40, 180, 100, 50, 0, 1, 130, 110, 1, 1, 90, 90, 1, 1, 1, 0, 0, 0, 10, 250, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    for (const withMask of [false, true]) {
      const o = { factor: 2, maskWeight: 0.5, background: 0.15, radius: 2 };
      const r = await both(ctx, async (s) => {
        const out = s.decoderInputs(
          s.upload(image, [B, S * S]),
          s.upload(prior, [B, S * S]),
          withMask ? s.upload(mask, [B, S * S]) : null,
          s.upload(prompts, [B, 1 + P, 4]),
          { B, H: S, W: S },
          P,
          o,
        );
        return { image: await read(s, out.image), prior: await read(s, out.prior), seeds: Array.from(await read(s, out.seeds)) };
      });
      if (!r) return;
      expectClose(r.g.image, r.c.image, 1e-6, 1e-5);
      expectClose(r.g.prior, r.c.prior, 1e-6, 1e-5);
      expect(r.g.seeds).toEqual(r.c.seeds);
      expect(new Set(r.c.seeds)).toEqual(new Set([0, 1, 2]));
    }
  });

  // Rows: several live centres, empty clusters, centres on a half (rounds up, as Math.round), no
  // positives at all (no box), and no negatives (Kn = 0), with and without extents.
  for (const [B, Kp, Kn, withExtents] of [
    [1, 1, 0, false],
    [4, 4, 4, true],
    [3, 2, 5, false],
    [70, 4, 4, true],
  ] as const) {
    it(`promptRows B=${B} Kp=${Kp} Kn=${Kn}${withExtents ? ' with extents' : ''}`, async (ctx) => {
      const rng = createRng(B * 100 + Kp * 10 + Kn);
      const centre = () => [0.5, 2.5, 63, 17.49999, 31.5][Math.floor(rng() * 5)]! + Math.floor(rng() * 30);
      const posC = Float32Array.from({ length: B * Kp * 2 }, centre);
      // Row 0's first slot is live; row 1 has none.
      const posS = Uint32Array.from({ length: B * Kp }, (_, i) => (i === 0 ? 5 : Math.floor(i / Kp) === 1 ? 0 : rng() < 0.2 ? 0 : 1 + Math.floor(rng() * 9)));
      const negC = Float32Array.from({ length: B * Kn * 2 }, centre);
      const negS = Uint32Array.from({ length: B * Kn }, () => (rng() < 0.3 ? 0 : 3));
      const extents = Float32Array.from({ length: B * 2 }, () => 1 + Math.floor(rng() * 120));
      const o = { cell: 4, margin: 12, marginFactor: 0.5, extentFactor: 1.2 };
      const r = await both(ctx, async (s) =>
        Array.from(
          await read(
            s,
            s.promptRows(
              { centroids: s.upload(posC, [B, Kp, 2]), sizes: s.upload(posS, [B, Kp]) },
              Kn ? { centroids: s.upload(negC, [B, Kn, 2]), sizes: s.upload(negS, [B, Kn]) } : null,
              withExtents ? s.upload(extents, [B, 2]) : null,
              { B, Kp, Kn },
              o,
            ),
          ),
        ),
      );
      if (!r) return;
      // Points are exact (cell centres); the box is f32 on the device and f64 → f32 here.
      expectClose(r.g, r.c, 1e-4, 1e-6);
      const row = 4 * (1 + Kn + Kp);
      if (B > 1) expect(r.c.slice(row, row + 4)).toEqual([1, 0, 0, 0]); // row 1 has no live positive
      expect(r.c[4 * (1 + Kn) + 2]).toBe(1); // the positives' label
      // 17.49999 rounds down and 2.5 up, as the host's Math.round did.
      expect(r.c[4 * (1 + Kn)]).toBe(Math.round(posC[0]!) * 4 + 2);
    });
  }

  it('gather takes rows from several tensors in any order', async (ctx) => {
    const a = randomArray(3 * 5, 41);
    const b = randomArray(2 * 5, 42);
    const m = randomMask(2 * 9, 43);
    const r = await both(ctx, async (s) => {
      const ta = s.upload(a, [3, 5]);
      const tb = s.upload(b, [2, 5]);
      const tm = s.upload(m, [2, 9]);
      return [
        Array.from(
          await read(
            s,
            s.gather([
              { tensor: tb, row: 1 },
              { tensor: ta, row: 2 },
              { tensor: ta, row: 0 },
              { tensor: tb, row: 1 },
            ]),
          ),
        ),
        Array.from(
          await read(
            s,
            s.gather([
              { tensor: tm, row: 1 },
              { tensor: tm, row: 0 },
            ]),
          ),
        ),
      ];
    });
    if (!r) return;
    expect(r.g).toEqual(r.c);
    expect(r.c[0]!.slice(0, 10)).toEqual([...Array.from(b.subarray(5, 10)), ...Array.from(a.subarray(10, 15))]);
    expect(r.c[1]).toEqual([...Array.from(m.subarray(9, 18)), ...Array.from(m.subarray(0, 9))]);
  });

  for (const n of [1, 31, 32, 33, 65536 * 3 + 7]) {
    it(`readMask crosses as bits: ${n} values`, async (ctx) => {
      const values = Uint8Array.from(randomMask(n, n, 0.5), (v, i) => (v ? 1 + (i % 2) : 0)); // seeds hold 2s too
      const r = await both(ctx, async (s) => s.readMask(s.upload(values, [n])));
      if (!r) return;
      expect(Array.from(r.g)).toEqual(Array.from(r.c));
      expect(Array.from(r.c)).toEqual(Array.from(values, (v) => (v ? 1 : 0)));
      expect(Array.from(packBitsReference(values)).length).toBe(Math.ceil(n / 32));
    });
  }

  it("stackPosition, moments of a mask's complement, downsampleMask", async (ctx) => {
    const B = 3,
      C = 10,
      Cp = 14,
      N = 4096;
    const a = randomArray(B * C * N, 21);
    const pos = randomArray(Cp * N, 22);
    const mask = randomMask(B * 65536, 23, 0.3);
    const r = await both(ctx, async (s) => {
      const stacked = await read(s, s.stackPosition(s.upload(a, [B, C, N]), s.upload(pos, [Cp, N]), { B, C, N }, Cp, 0.5));
      const values = s.upload(randomArray(B * N, 24), [B, N]);
      const grid = s.downsampleMask(s.upload(mask, [B, 65536]), { B, inH: 256, inW: 256, outH: 64, outW: 64 });
      const stats = await read(s, s.moments(values, grid, { B, N }, true));
      return { stacked, stats, grid: Array.from(await read(s, grid)) };
    });
    if (!r) return;
    expectClose(r.g.stacked, r.c.stacked, 1e-6, 1e-6);
    expect(r.g.grid).toEqual(r.c.grid);
    expectClose(r.g.stats, r.c.stats, 1e-5, 1e-4);
  });

  for (const [B, C, skip, g] of [
    [1, 1, 1, 1],
    [2, 16, 5, 8],
    [3, 7, 1, 37],
  ] as const) {
    it(`tokensToGrid and concat B=${B} C=${C} skip=${skip} ${g}×${g}`, async (ctx) => {
      const T = skip + g * g;
      const tokens = randomArray(B * T * C, B + C);
      const r = await both(ctx, async (s) => {
        const grid = s.tokensToGrid(s.upload(tokens, [B, T, C]), { B, T, C, skip, cells: g * g });
        const joined = s.concat([grid, s.upload(Float32Array.of(7, 8), [2])], [B * C * g * g + 2]);
        return read(s, joined);
      });
      if (!r) return;
      expect(Array.from(r.g)).toEqual(Array.from(r.c));
      // The first patch token's channels land at cell 0 of each channel plane.
      expect(r.c[0]).toBe(tokens[skip * C]);
    });
  }

  it('take gathers rows in any order, for every dtype', async (ctx) => {
    const f = randomArray(5 * 7, 1);
    const m = randomMask(5 * 9, 2);
    const r = await both(ctx, async (s) => [
      Array.from(await read(s, s.take(s.upload(f, [5, 7]), [4, 0, 2]))),
      Array.from(await read(s, s.take(s.upload(m, [5, 9]), [1, 1, 3]))),
    ]);
    if (!r) return;
    expect(r.g).toEqual(r.c);
    expect(r.c[0]!.slice(0, 7)).toEqual(Array.from(f.subarray(28, 35)));
  });

  it('adopts a buffer made elsewhere on the device and lets it go when the stream ends', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const device = gpu.current.handle.device;
    const buffer = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    device.queue.writeBuffer(buffer, 0, Float32Array.of(1, -2, 3, -4));
    let disposed = 0;
    const s = new GpuStream(gpu.current.runtime, 'adopt');
    const t = s.adoptBuffer(buffer, [4], () => {
      disposed++;
    });
    expect(Array.from(await s.read(s.threshold(t, 0)))).toEqual([1, 0, 1, 0]);
    expect(disposed).toBe(0);
    s.end();
    expect(disposed).toBe(1);
  });

  it('randomWalker through the stream', async (ctx) => {
    const B = 2,
      H = 64,
      W = 64;
    const image = new Float32Array(B * H * W);
    const disc = discMask(H, W, 30, 32, 14);
    for (let b = 0; b < B; b++)
      disc.forEach((v, i) => {
        image[b * H * W + i] = v ? 0.8 : 0.2;
      });
    const seeds = new Uint8Array(B * H * W);
    for (let b = 0; b < B; b++) {
      seeds[b * H * W + 32 * W + 30] = 1;
      seeds[b * H * W + 2 * W + 2] = 2;
    }
    const prior = new Float32Array(B * H * W).fill(0.5);
    const o = { beta: 130, gamma: 0.05, maxIterations: 300, tolerance: 1e-3 };
    const r = await both(ctx, async (s) =>
      read(s, await s.randomWalker(s.upload(image, [B, H * W]), s.upload(seeds, [B, H * W]), s.upload(prior, [B, H * W]), { B, H, W }, o)),
    );
    if (r) expectClose(r.g, r.c, 2e-3, 1e-2);
  });
});

describe('speculative streams', () => {
  const walk = (B: number, H: number, W: number, tolerance: number) => {
    const image = new Float32Array(B * H * W);
    const disc = discMask(H, W, W / 2, H / 2, H / 4);
    for (let b = 0; b < B; b++)
      disc.forEach((v, i) => {
        image[b * H * W + i] = (v ? 0.8 : 0.2) + 0.01 * ((i * 7 + b) % 5);
      });
    const seeds = new Uint8Array(B * H * W);
    for (let b = 0; b < B; b++) {
      seeds[b * H * W + (H / 2) * W + W / 2] = 1;
      seeds[b * H * W + 2 * W + 2] = 2;
    }
    const prior = new Float32Array(B * H * W).fill(0.5);
    return { image, seeds, prior, o: { beta: 130, gamma: 0.05, maxIterations: 300, tolerance } };
  };

  it('a solve recorded ahead gives the checked result with no submission before the read', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const B = 3,
      H = 64,
      W = 64;
    const { image, seeds, prior, o } = walk(B, H, W, 1e-3);
    const run = async (s: TensorStream) => {
      const x = await s.randomWalker(s.upload(image, [B, H * W]), s.upload(seeds, [B, H * W]), s.upload(prior, [B, H * W]), { B, H, W }, o);
      return s.readMask(s.threshold(x, 0.5));
    };
    const rt = gpu.current.runtime;
    const checked = new GpuStream(rt, 'checked');
    const ahead = new GpuStream(rt, 'ahead', { speculative: true });
    try {
      const want = await run(checked);
      const before = rt.snapshotTransfers().submits;
      const got = await run(ahead);
      expect(rt.snapshotTransfers().submits - before).toBe(1);
      expect(ahead.settled()).toBe(true);
      expect(Array.from(got)).toEqual(Array.from(want));
      expect(checked.settled()).toBe(true);
    } finally {
      checked.end();
      ahead.end();
    }
  });

  it('says when a solve needed more iterations than were recorded ahead', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const B = 1,
      H = 128,
      W = 128;
    const { image, seeds, prior, o } = walk(B, H, W, 1e-7);
    const s = new GpuStream(gpu.current.runtime, 'ahead', { speculative: true });
    try {
      const x = await s.randomWalker(s.upload(image, [B, H * W]), s.upload(seeds, [B, H * W]), s.upload(prior, [B, H * W]), { B, H, W }, o);
      expect(() => s.settled()).toThrow(/sync first/);
      await s.read(x);
      expect(s.settled()).toBe(false);
      // The CPU needs more than the iterations recorded ahead on this system, too.
      const { randomWalkerReference } = await import('../src/index.ts');
      expect(randomWalkerReference(image, seeds, prior, { B, H, W }, o).iterations[0]).toBeGreaterThan(RANDOM_WALKER_CHECKS.first);
    } finally {
      s.end();
    }
  });
});

describe('kernels new to the device chain, raw', () => {
  it("best_component matches its f32 reference on the components kernel's own output", async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const B = 4,
      H = 50,
      W = 70,
      P = H * W;
    const masks = randomMask(B * P, 9, 0.5);
    masks.fill(0, 3 * P); // the last row is empty
    const values = randomArray(B * P, 10, -1, 1);
    const rec = gpu.current.runtime.recorder('best');
    const c = recordComponents(rec, rec.upload(Uint32Array.from(masks), 'm'), rec.upload(values, 'v'), { B, H, W }, 4);
    const best = recordBestComponent(rec, c, { B, P }).best;
    const [roots, sizes, sums, got] = await Promise.all([
      rec.download(c.roots, Uint32Array),
      rec.download(c.sizes, Uint32Array),
      rec.download(c.sums, Uint32Array),
      rec.download(best, Uint32Array),
    ]);
    rec.end();
    expect(Array.from(got)).toEqual(Array.from(bestRootsReference(roots, sizes, sums, B, P)));
    expect(got[3]).toBe(NO_COMPONENT);
  });

  it('pack puts four byte values in a word, for any count', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    for (const n of [1, 5, 4099]) {
      const values = Uint32Array.from({ length: n }, (_, i) => (i * 37) % 256);
      const rec = gpu.current.runtime.recorder('pack');
      const got = await rec.download(recordPack(rec, rec.upload(values, 'v'), n), Uint32Array);
      rec.end();
      expect(Array.from(got)).toEqual(Array.from(packBytesReference(values)));
    }
  });
});

describe('tensors on the device', () => {
  it('a released tensor goes back to the pool only after the commands that use it', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const a = new GpuStream(runtime, 'a');
    const x = a.upload(
      Float32Array.from({ length: 1000 }, (_, i) => i),
      [1000],
    );
    const y = a.threshold(x, 499.5); // recorded, not submitted
    a.release(x);
    // Another stream asks for a buffer of the same size and writes into it right away.
    const b = new GpuStream(runtime, 'b');
    b.upload(new Float32Array(1000).fill(1e9), [1000]);
    const got = await a.read(y);
    expect(got.reduce((s, v) => s + v, 0)).toBe(500);
    a.end();
    b.end();
    expect(runtime.pool.snapshot().inUse).toBe(0);
    runtime.destroy();
  });

  it('resident tensors upload once per owner', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const owner = {};
    let made = 0;
    const make = () => {
      made++;
      return new HostTensor('f32', [4], Float32Array.of(1, 2, 3, 4));
    };
    for (let i = 0; i < 3; i++) {
      const s = new GpuStream(runtime, 'r');
      expect(Array.from(await s.read(s.resident(owner, 'k', make)))).toEqual([1, 2, 3, 4]);
      s.end();
    }
    expect(made).toBe(1);
    runtime.destroy();
  });

  it('counts uploads, readbacks, submissions and maps', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const s = new GpuStream(runtime, 'count');
    const x = s.upload(randomArray(4096, 1), [1, 4096]);
    const t = s.topk(x, { B: 1, N: 4096 }, 32);
    const before = runtime.snapshotTransfers();
    const [v, i] = await Promise.all([s.read(t.values), s.read(t.indices)]);
    const after = runtime.snapshotTransfers();
    s.end();
    expect(v.length + i.length).toBe(64);
    expect(before.uploadBytes).toBeGreaterThanOrEqual(4096 * 4);
    expect(after.submits - before.submits).toBe(1); // two reads, one submission
    expect(after.maps - before.maps).toBe(2);
    expect(after.readbackBytes - before.readbackBytes).toBe(2 * 32 * 4);
    runtime.destroy();
  });
});

describe('two chains in flight at once', () => {
  /** A chain of several kernels with a readback in the middle. */
  async function chain(s: TensorStream, seed: number): Promise<number[]> {
    const B = 4,
      N = 4096;
    const x = s.upload(randomArray(B * N, seed), [B, N]);
    const y = s.upload(randomArray(B * N, seed + 1), [B, N]);
    const fused = s.synergy(x, y, { both: 0.8, sam: 0.1, dino: 0.1 });
    const top = s.topk(fused, { B, N }, 32);
    const first = await s.read(top.indices);
    const pts = s.cellPoints(top.indices, null, { B, n: 32, G: 64 });
    const km = s.kmeans(pts.points, pts.counts, { B, n: 32, k: 4 }, s.upload(drawIntegers(createRng(seed), B * 4), [B, 4]), 100);
    const up = s.upsampleBilinear(fused, { B, inH: 64, inW: 64, outH: 256, outW: 256 });
    const mask = s.threshold(up, 0.1);
    const opened = s.morphology(s.morphology(mask, { B, H: 256, W: 256 }, 'erode', { shape: 'disc', radius: 2 }), { B, H: 256, W: 256 }, 'dilate', {
      shape: 'disc',
      radius: 2,
    });
    const best = s.bestComponent(opened, up, { B, H: 256, W: 256 }, 8);
    const [c, m] = await Promise.all([s.read(km.centroids), s.read(best.mask)]);
    return [...first.slice(0, 8), ...c, m.reduce((a, v) => a + v, 0)];
  }

  it('give the same answers as one after the other, with nothing left in the pool', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const run = async (seed: number) => {
      const s = new GpuStream(runtime, `chain-${seed}`);
      try {
        return await chain(s, seed);
      } finally {
        s.end();
      }
    };
    const alone = [await run(1), await run(2)];
    const together = await Promise.all([run(1), run(2)]);
    expect(together).toEqual(alone);
    expect(await chain(new CpuStream(), 1)).toEqual(alone[0]);
    expect(runtime.pool.snapshot().inUse).toBe(0);
    runtime.destroy();
  });

  it('keep their errors to themselves', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const good = new GpuStream(runtime, 'good');
    const bad = new GpuStream(runtime, 'bad');
    const y = good.threshold(good.upload(randomArray(1000, 3), [1000]), 0);
    // Recorded in between: a buffer without storage usage bound as storage (a validation error).
    const stray = { buffer: runtime.device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM }), bytes: 16 };
    const unused = bad.rec.scratch(4, 'unused');
    const out = bad.rec.scratch(16, 'out');
    bad.rec.dispatch(
      refineSpec,
      'threshold',
      [stray, unused, unused, unused, out, unused],
      [1],
      [
        ['u32', 4],
        ['u32', 1],
        ['f32', 0],
        ['u32', 0],
      ],
    );
    const badRead = bad.rec.download(out, Uint32Array).then(
      () => 'ok',
      (e: Error) => e.name,
    );
    const z = good.threshold(good.upload(randomArray(1000, 4), [1000]), 0);
    const goodRead = Promise.all([good.read(y), good.read(z)]).then(
      (v) => v[0].length + v[1].length,
      (e: Error) => e.message,
    );
    expect(await Promise.all([goodRead, badRead])).toEqual([2000, 'GpuValidationError']);
    good.end();
    bad.end();
    runtime.destroy();
  });

  it('time their own dispatches under one profiler', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    if (!gpu.current.handle.device.features.has('timestamp-query')) return ctx.skip('this adapter has no timestamp-query');
    const runtime = new GpuRuntime(gpu.current.handle.device, { profile: true });
    const a = new GpuStream(runtime, 'a');
    const b = new GpuStream(runtime, 'b');
    a.stage('alpha');
    b.stage('beta');
    const ta = a.threshold(a.upload(randomArray(5000, 1), [5000]), 0);
    const tb = b.prior(
      b.upload(randomArray(5000, 2), [1, 5000]),
      b.upload(Float32Array.of(1, 0.5, 0), [1, 3]),
      { B: 1, P: 5000 },
      b.upload(Float32Array.of(0), [1]),
      8,
    );
    const tc = a.threshold(a.upload(randomArray(300, 3), [300]), 0.5);
    await Promise.all([b.read(tb), a.read(tc), a.read(ta)]);
    a.end();
    b.end();
    const labels = runtime.profiler!.timings.map((t) => t.label).sort();
    expect(labels).toEqual(['alpha/refine:pack', 'alpha/refine:pack', 'alpha/refine:threshold', 'alpha/refine:threshold', 'beta/prior:logistic']);
    runtime.destroy();
  });
});
