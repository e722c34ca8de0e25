/**
 * The device-resident layer: stream operations that are not kernels (uploads, reads, masks read
 * as bits, gathers), what the kernels' outputs mean where equality with the reference is not the
 * whole story, tensors that stay on the device, speculative solves, and two chains in flight at
 * once. Every kernel against its CPU reference is kernels.test.ts.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import { CpuStream, createRng, GpuRuntime, GpuStream, HostTensor, releaseResident, type T, type TensorStream } from '../src/index.ts';
import {
  areaThreshold,
  bestComponent,
  bestRootsReference,
  cellPoints,
  componentsSpec,
  drawIntegers,
  guidePenalty,
  kmeans,
  moments,
  morphology,
  NO_COMPONENT,
  packBitsReference,
  packBytesReference,
  poolMask,
  prior,
  promptRows,
  RANDOM_WALKER_CHECKS,
  randomWalker,
  randomWalkerReference,
  recordComponents,
  recordPack,
  refineSpec,
  synergy,
  threshold,
  topk,
  upsampleBilinear,
} from '../src/kernels/index.ts';
import { areaInputs } from '../src/kernels/area/cases.ts';
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

describe('what kernel outputs mean', () => {
  for (const [B, P] of [
    [6, 65536],
    [3, 1000],
  ] as const) {
    it(`areaThreshold B=${B} P=${P}: each row's area is its target's, as far as the range lets it`, async (ctx) => {
      const { values, targets } = areaInputs(B, P);
      const o = { B, P, lo: 0.3, hi: 0.7, fallback: 0.5 };
      const r = await both(ctx, (s) => read(s, s.run(areaThreshold, { values: s.upload(values.data, [B, P]), targets: s.upload(targets.data, [B]) }, o)));
      if (!r) return;
      expect(Array.from(r.g)).toEqual(Array.from(r.c));
      for (let b = 0; b < B; b++) {
        const row = values.data.subarray(b * P, (b + 1) * P);
        const area = r.c.subarray(b * P, (b + 1) * P).reduce((a, v) => a + v, 0);
        const over = (t: number) => row.reduce((a, v) => a + (v > t ? 1 : 0), 0);
        const target = targets.data[b]!;
        if (target === 0) expect(area).toBe(over(0.5));
        else {
          expect(area).toBeLessThanOrEqual(over(0.3));
          expect(area).toBeGreaterThanOrEqual(over(0.7));
          if (over(0.7) < target && over(0.3) > target + P / 100) expect(Math.abs(area - target)).toBeLessThanOrEqual(P / 100 + 300);
        }
      }
    });
  }

  it('areaThreshold refuses a range with lo > hi, and mismatched lengths, on both paths', async (ctx) => {
    await both(ctx, async (s) => {
      const values = s.upload(new Float32Array(4), [2, 2]);
      expect(() => s.run(areaThreshold, { values, targets: s.upload(new Float32Array(2), [2]) }, { B: 2, P: 2, lo: 0.7, hi: 0.3, fallback: 0.5 })).toThrow(
        /lo ≤ hi/,
      );
      expect(() => s.run(areaThreshold, { values, targets: s.upload(new Float32Array(3), [3]) }, { B: 2, P: 2, lo: 0, hi: 1, fallback: 0.5 })).toThrow(
        /targets/,
      );
      return null;
    });
  });

  for (const [B, H, G] of [
    [1, 4, 1],
    [2, 256, 64],
    [3, 36, 12],
  ] as const) {
    it(`poolMask then guidePenalty B=${B} ${H}×${H} onto ${G}×${G}: all-guide cells keep their value, an empty guide changes nothing`, async (ctx) => {
      const masks = randomMask(B * H * H, 90 + H, 0.3);
      if (B > 1) masks.fill(0, H * H, 2 * H * H);
      const maps = randomArray(B * G * G, 91 + G, -0.3, 0.8);
      const r = await both(ctx, async (s) => {
        const pooled = s.run(poolMask, { masks: s.upload(masks, [B, H * H]), and: null }, { B, H, W: H, G });
        const out = s.run(guidePenalty, { maps: s.upload(maps, [B, G * G]), guide: pooled }, { B, N: G * G, weight: 0.2 });
        const flat = s.run(guidePenalty, { maps: s.upload(maps, [B, G * G]), guide: pooled }, { B, N: G * G, weight: 0.2, plateau: 0.5 });
        return { pooled: await read(s, pooled), out: await read(s, out), flat: await read(s, flat) };
      });
      if (!r) return;
      expect(Array.from(r.g.pooled)).toEqual(Array.from(r.c.pooled));
      expectClose(r.g.out, r.c.out, 1e-6, 1e-6);
      const full = Array.from(r.c.pooled.subarray(0, G * G)).indexOf(Math.max(...r.c.pooled.subarray(0, G * G)));
      expect(r.c.out[full]).toBeCloseTo(maps[full]!, 6);
      if (B > 1) expect(Array.from(r.c.out.subarray(G * G, 2 * G * G))).toEqual(Array.from(maps.subarray(G * G, 2 * G * G)));
      // With a plateau of 0.5, cells at half the guide's peak or more keep their value; the rest lose less than without.
      expectClose(r.g.flat, r.c.flat, 1e-6, 1e-6);
      const top = Math.max(...r.c.pooled.subarray(0, G * G));
      for (let i = 0; i < G * G; i++) {
        if (r.c.pooled[i]! >= 0.5 * top) expect(r.c.flat[i]).toBe(maps[i]);
        else expect(r.c.flat[i]!).toBeLessThan(maps[i]!);
        expect(r.c.flat[i]!).toBeGreaterThanOrEqual(r.c.out[i]!);
      }
    });
  }

  it('promptRows: a row without positives has no box; positives keep their label; centres round as Math.round', async (ctx) => {
    const [B, Kp, Kn] = [3, 2, 5];
    const posC = Float32Array.from({ length: B * Kp * 2 }, (_, i) => [17.49999, 2.5, 31.5][i % 3]! + i);
    const posS = Uint32Array.from({ length: B * Kp }, (_, i) => (Math.floor(i / Kp) === 1 ? 0 : 4));
    const negC = Float32Array.from({ length: B * Kn * 2 }, (_, i) => i);
    const negS = new Uint32Array(B * Kn).fill(3);
    const o = { B, Kp, Kn, cell: 4, margin: 12, marginFactor: 0.5, extentFactor: 1.2 };
    const r = await both(ctx, async (s) =>
      Array.from(
        await read(
          s,
          s.run(
            promptRows,
            {
              posCentroids: s.upload(posC, [B, Kp, 2]),
              posSizes: s.upload(posS, [B, Kp]),
              negCentroids: s.upload(negC, [B, Kn, 2]),
              negSizes: s.upload(negS, [B, Kn]),
              extents: null,
            },
            o,
          ),
        ),
      ),
    );
    if (!r) return;
    expectClose(r.g, r.c, 1e-4, 1e-6);
    const row = 4 * (1 + Kn + Kp);
    expect(r.c.slice(row, row + 4)).toEqual([1, 0, 0, 0]);
    expect(r.c[4 * (1 + Kn) + 2]).toBe(1);
    expect(r.c[4 * (1 + Kn)]).toBe(Math.round(posC[0]!) * 4 + 2);
  });

  it('kmeans on the device is the seeding and Lloyd references on the host', async (ctx) => {
    const [B, n, k] = [3, 200, 6];
    const rng = createRng(n * 31 + k);
    const points = Float32Array.from({ length: B * n * 2 }, () => Math.floor(rng() * 64));
    const counts = Uint32Array.from({ length: B }, (_, b) => n - b);
    const draws = drawIntegers(createRng(k, n), B * k);
    const r = await both(ctx, async (s) => {
      const out = s.run(
        kmeans,
        { points: s.upload(points, [B, n, 2]), counts: s.upload(counts, [B]), draws: s.upload(draws, [B, k]) },
        { B, n, k, maxIterations: 100 },
      );
      return { centroids: Array.from(await read(s, out.centroids)), sizes: Array.from(await read(s, out.sizes)) };
    });
    if (!r) return;
    // Grid points: the sums are exact, so live centres agree exactly.
    expect(r.g.sizes).toEqual(r.c.sizes);
    r.g.sizes.forEach((size, slot) => {
      if (size > 0) expect([r.g.centroids[2 * slot], r.g.centroids[2 * slot + 1]]).toEqual([r.c.centroids[2 * slot], r.c.centroids[2 * slot + 1]]);
    });
    expect(r.c.sizes.slice(0, k).reduce((a, v) => a + v, 0)).toBe(n);
  });
});

describe('stream.run checks shapes on both paths', () => {
  it('refuses tensors that do not fit the kernel, on the device too (where only shapes are known)', async (ctx) => {
    await both(ctx, async (s) => {
      const a = s.upload(randomArray(10, 1), [10]);
      const b = s.upload(randomArray(11, 2), [11]);
      expect(() => s.run(synergy, { a, b }, { both: 0.8, sam: 0.1, dino: 0.1 })).toThrow(/synergy: second map has 11 values, the shape needs 10/);
      const values = s.upload(randomArray(40, 3), [4, 10]);
      expect(() => s.run(topk, { values }, { B: 4, N: 10, k: 11 })).toThrow(/topk: k = 11 exceeds the 10 values/);
      expect(() => s.run(threshold, { values }, NaN)).toThrow(/threshold must be finite/);
      return null;
    });
  });
});

describe('stream operations that are not kernels', () => {
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

  it('spans join runs of values of several tensors, in order, for every dtype', async (ctx) => {
    const a = randomArray(4 * 6, 45);
    const b = randomArray(10, 46);
    const m = randomMask(3 * 5, 47);
    const r = await both(ctx, async (s) => {
      const ta = s.upload(a, [4, 6]);
      const tb = s.upload(b, [10]);
      const tm = s.upload(m, [3, 5]);
      return [
        Array.from(
          await read(
            s,
            s.spans([
              { tensor: ta, offset: 7, length: 3 },
              { tensor: tb, offset: 0, length: 1 },
              { tensor: ta, offset: 23, length: 1 },
              { tensor: tb, offset: 4, length: 6 },
            ]),
          ),
        ),
        Array.from(
          await read(
            s,
            s.spans([
              { tensor: tm, offset: 14, length: 1 },
              { tensor: tm, offset: 2, length: 5 },
            ]),
          ),
        ),
      ];
    });
    if (!r) return;
    expect(r.g).toEqual(r.c);
    expect(r.c[0]).toEqual([...Array.from(a.subarray(7, 10)), b[0]!, a[23]!, ...Array.from(b.subarray(4, 10))]);
    expect(r.c[1]).toEqual([m[14]!, ...Array.from(m.subarray(2, 7))]);
  });

  it('spans refuses runs outside their tensor and mixed dtypes, on both paths', async (ctx) => {
    const r = await both(ctx, async (s) => {
      const t = s.upload(randomArray(8, 48), [2, 4]);
      const m = s.upload(randomMask(8, 49), [8]);
      const refusals = [
        () => s.spans([{ tensor: t, offset: 6, length: 3 }]),
        () => s.spans([{ tensor: t, offset: -1, length: 1 }]),
        () => s.spans([{ tensor: t, offset: 0, length: 0 }]),
        () => s.spans([]),
        () => s.spans([{ tensor: t, offset: 0, length: 1 }, { tensor: m, offset: 0, length: 1 } as never]),
      ];
      return refusals.map((f) => {
        try {
          f();
          return 'accepted';
        } catch (error) {
          return (error as Error).name;
        }
      });
    });
    if (!r) return;
    expect(r.c).toEqual(['ShapeError', 'ShapeError', 'ShapeError', 'ShapeError', 'ShapeError']);
    expect(r.g).toEqual(r.c);
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
    expect(Array.from(await s.read(s.run(threshold, { values: t }, 0)))).toEqual([1, 0, 1, 0]);
    expect(disposed).toBe(0);
    s.end();
    expect(disposed).toBe(1);
  });

  it('concat joins tensors along their first axis', async (ctx) => {
    const a = randomArray(6, 44);
    const r = await both(ctx, async (s) => read(s, s.concat([s.upload(a, [2, 3]), s.upload(Float32Array.of(7, 8), [2])], [8])));
    if (!r) return;
    expect(Array.from(r.g)).toEqual(Array.from(r.c));
    expect(Array.from(r.c)).toEqual([...Array.from(a), 7, 8]);
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
      const x = await s.run(
        randomWalker,
        { image: s.upload(image, [B, H * W]), seeds: s.upload(seeds, [B, H * W]), prior: s.upload(prior, [B, H * W]) },
        { B, H, W, ...o },
      );
      return s.readMask(s.run(threshold, { values: x }, 0.5));
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
      const x = await s.run(
        randomWalker,
        { image: s.upload(image, [B, H * W]), seeds: s.upload(seeds, [B, H * W]), prior: s.upload(prior, [B, H * W]) },
        { B, H, W, ...o },
      );
      expect(() => s.settled()).toThrow(/sync first/);
      await s.read(x);
      expect(s.settled()).toBe(false);
      // The CPU needs more than the iterations recorded ahead on this system, too.
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
    const s = new GpuStream(gpu.current.runtime, 'best');
    const m = s.upload(masks, [B, P]);
    const v = s.upload(values, [B, P]);
    // The components kernel's raw buffers, recorded as bestComponent records them.
    const c = recordComponents({ rec: s.rec, speculative: false, ahead: () => undefined }, m as never, v as never, { B, H, W, connectivity: 4 });
    const best = s.run(bestComponent, { masks: m, values: v }, { B, H, W, connectivity: 4 });
    const [roots, sizes, sums, got] = await Promise.all([s.read(c.roots), s.read(c.sizes), s.read(c.sums), s.read(best.found)]);
    s.end();
    expect(Array.from(got)).toEqual(Array.from(bestRootsReference(roots, sizes, sums, B, P)));
    expect(got[3]).toBe(NO_COMPONENT);
    expect(componentsSpec.name).toBe('components');
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
    const y = a.run(threshold, { values: x }, 499.5); // recorded, not submitted
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

  it('a resident tensor computed on a stream outlives the stream and is computed once per owner', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const owner = {};
    let made = 0;
    for (let i = 0; i < 3; i++) {
      const s = new GpuStream(runtime, 'r');
      const sums = s.resident(owner, 'sums', () => {
        made++;
        return s.run(moments, { values: s.upload(Float32Array.of(1, 2, 3, 6), [1, 4]), mask: null }, { B: 1, N: 4 });
      });
      // Another stream's work reuses the pooled buffers the first one released at its end.
      s.run(topk, { values: s.upload(randomArray(4096, i), [1, 4096]) }, { B: 1, N: 4096, k: 8 });
      expect(Array.from(await s.read(sums))).toEqual([4, 3, Math.sqrt(3.5)].map(Math.fround));
      s.end();
    }
    expect(made).toBe(1);
    expect(runtime.pool.snapshot().inUse).toBe(1);
    releaseResident(runtime, owner);
    expect(runtime.pool.snapshot().inUse).toBe(0);
    runtime.destroy();
  });

  it('counts uploads, readbacks, submissions and maps', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const s = new GpuStream(runtime, 'count');
    const x = s.upload(randomArray(4096, 1), [1, 4096]);
    const t = s.run(topk, { values: x }, { B: 1, N: 4096, k: 32 });
    const before = runtime.snapshotTransfers();
    const [v, i] = await Promise.all([s.read(t.values), s.read(t.indices)]);
    const after = runtime.snapshotTransfers();
    s.end();
    expect(v.length + i.length).toBe(64);
    expect(before.uploadBytes).toBeGreaterThanOrEqual(4096 * 4);
    expect(after.submits - before.submits).toBe(1); // two reads, one submission
    expect(after.maps - before.maps).toBe(1); // small reads share one staging buffer: one map
    expect(after.readbackBytes - before.readbackBytes).toBe(2 * 32 * 4);
    runtime.destroy();
  });

  it('reads small tensors side by side in one staging buffer and large ones in their own, each its own values', async (ctx) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const s = new GpuStream(runtime, 'staging');
    // Odd sizes (3 and 5 floats, 7 bytes of masks) and one past the shared buffer's small-read size.
    const host = [randomArray(3, 1), randomArray(5, 2), randomArray(40_000, 3), randomArray(6, 4)];
    const tensors = host.map((a) => s.upload(a, [a.length]));
    const mask = s.upload(Uint8Array.from([1, 0, 1, 1, 0, 0, 1]), [7]);
    const before = runtime.snapshotTransfers();
    const [values, bits] = await Promise.all([Promise.all(tensors.map((t) => s.read(t))), s.read(mask)]);
    const after = runtime.snapshotTransfers();
    s.end();
    values.forEach((v, i) => expect([...v]).toEqual([...host[i]!]));
    expect([...bits]).toEqual([1, 0, 1, 1, 0, 0, 1]);
    expect(after.submits - before.submits).toBe(1);
    expect(after.maps - before.maps).toBe(2); // the small ones together, the large one alone
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
    const fused = s.run(synergy, { a: x, b: y }, { both: 0.8, sam: 0.1, dino: 0.1 });
    const top = s.run(topk, { values: fused }, { B, N, k: 32 });
    const first = await s.read(top.indices);
    const pts = s.run(cellPoints, { indices: top.indices, counts: null }, { B, n: 32, G: 64 });
    const draws = s.upload(drawIntegers(createRng(seed), B * 4), [B, 4]);
    const km = s.run(kmeans, { points: pts.points, counts: pts.counts, draws }, { B, n: 32, k: 4, maxIterations: 100 });
    const up = s.run(upsampleBilinear, { maps: fused }, { B, inH: 64, inW: 64, outH: 256, outW: 256 });
    const mask = s.run(threshold, { values: up }, 0.1);
    const element = { shape: 'disc', radius: 2 } as const;
    const eroded = s.run(morphology, { masks: mask }, { B, H: 256, W: 256, op: 'erode', element });
    const opened = s.run(morphology, { masks: eroded }, { B, H: 256, W: 256, op: 'dilate', element });
    const best = s.run(bestComponent, { masks: opened, values: up }, { B, H: 256, W: 256, connectivity: 8 });
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
    const y = good.run(threshold, { values: good.upload(randomArray(1000, 3), [1000]) }, 0);
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
    const z = good.run(threshold, { values: good.upload(randomArray(1000, 4), [1000]) }, 0);
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
    const ta = a.run(threshold, { values: a.upload(randomArray(5000, 1), [5000]) }, 0);
    const tb = b.run(
      prior,
      { maps: b.upload(randomArray(5000, 2), [1, 5000]), top: b.upload(Float32Array.of(1, 0.5, 0), [1, 3]), mus: b.upload(Float32Array.of(0), [1]) },
      { B: 1, P: 5000, sharpness: 8 },
    );
    const tc = a.run(threshold, { values: a.upload(randomArray(300, 3), [300]) }, 0.5);
    await Promise.all([b.read(tb), a.read(tc), a.read(ta)]);
    a.end();
    b.end();
    const labels = runtime.profiler!.timings.map((t) => t.label).sort();
    expect(labels).toEqual(['alpha/refine:pack', 'alpha/refine:pack', 'alpha/refine:threshold', 'alpha/refine:threshold', 'beta/prior:logistic']);
    runtime.destroy();
  });
});
