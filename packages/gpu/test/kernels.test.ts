/**
 * Every WGSL kernel against its CPU reference, table-driven, with awkward sizes: 1, not a
 * multiple of the workgroup size, 256×256, batches, empty masks, constant inputs, k > N, and
 * past the 65,535-workgroup dispatch limit.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import {
  bandReference,
  componentsReference,
  confidenceNaiveReference,
  confidenceReference,
  cpuKernels,
  downsampleMaskReference,
  momentsReference,
  morphologyReference,
  prototypeReference,
  synergyReference,
  topkReference,
  upsampleBilinearReference,
  gaussianReference,
  appearanceReference,
  randomWalkerReference,
  SEED_FOREGROUND,
  SEED_BACKGROUND,
  type Connectivity,
  type StructuringElement,
} from '../src/index.ts';
import { discMask, expectClose, randomArray, randomMask, useGpu, type GpuUnderTest } from './gpu.ts';

const gpu = useGpu();

function gpuIt(name: string, body: (g: GpuUnderTest) => Promise<void>, timeout = 60_000): void {
  it(
    name,
    async (ctx: TestContext) => {
      if (!gpu.current) return ctx.skip(gpu.skipReason);
      await body(gpu.current);
    },
    timeout,
  );
}

describe('prototype', () => {
  const cases = [
    { B: 1, C: 1, N: 1 },
    { B: 1, C: 3, N: 77 },
    { B: 3, C: 17, N: 4096 },
    { B: 2, C: 256, N: 130 },
  ];
  for (const shape of cases) {
    gpuIt(`B=${shape.B} C=${shape.C} N=${shape.N}`, async ({ kernels }) => {
      const feats = randomArray(shape.B * shape.C * shape.N, 1);
      const masks = randomMask(shape.B * shape.N, 2, 0.3);
      for (let b = 0; b < shape.B; b++) masks[b * shape.N] = 1; // every mask non-empty
      expectClose(await kernels.prototype(feats, masks, shape), prototypeReference(feats, masks, shape), 1e-5, 1e-4);
    });
  }
});

describe('confidence', () => {
  const cases = [
    { B: 1, C: 1, N: 1, shared: true },
    { B: 1, C: 5, N: 65, shared: true },
    { B: 4, C: 32, N: 4096, shared: true },
    { B: 3, C: 256, N: 1000, shared: false },
  ];
  for (const { shared, ...shape } of cases) {
    gpuIt(`B=${shape.B} C=${shape.C} N=${shape.N} ${shared ? 'shared' : 'per-grid'} prototype`, async ({ kernels }) => {
      const feats = randomArray(shape.B * shape.C * shape.N, 3);
      const protos = randomArray((shared ? 1 : shape.B) * shape.C, 4);
      expectClose(await kernels.confidence(feats, protos, shape), confidenceReference(feats, protos, shape), 1e-5, 1e-4);
    });
  }

  gpuIt('constant features give the same confidence everywhere', async ({ kernels }) => {
    const shape = { B: 2, C: 8, N: 300 };
    const feats = new Float32Array(shape.B * shape.C * shape.N).fill(0.25);
    const protos = randomArray(shape.C, 5);
    const out = await kernels.confidence(feats, protos, shape);
    expectClose(out, confidenceReference(feats, protos, shape));
    expect(new Set(out).size).toBe(1);
  });

  gpuIt('a zero feature vector gives confidence 0, not NaN', async ({ kernels }) => {
    const shape = { B: 1, C: 4, N: 3 };
    const feats = new Float32Array(12);
    expect(Array.from(await kernels.confidence(feats, randomArray(4, 6), shape))).toEqual([0, 0, 0]);
  });
});

describe("confidence (fused) equals the paper's literal mean of cosines", () => {
  const cases = [
    { B: 1, C: 1, N: 1, density: 1 },
    { B: 2, C: 16, N: 257, density: 0.2 },
    { B: 1, C: 64, N: 4096, density: 0.02 },
  ];
  for (const { density, ...shape } of cases) {
    gpuIt(`B=${shape.B} C=${shape.C} N=${shape.N}`, async ({ kernels }) => {
      const query = randomArray(shape.B * shape.C * shape.N, 7);
      const support = randomArray(shape.C * shape.N, 8);
      const mask = randomMask(shape.N, 9, density);
      mask[0] = 1;
      const naive = await kernels.confidenceNaive(query, support, mask, shape);
      expectClose(naive, confidenceNaiveReference(query, support, mask, { ...shape }), 1e-5, 1e-4);
      const proto = await kernels.prototype(support, mask, { B: 1, C: shape.C, N: shape.N });
      const fused = await kernels.confidence(query, proto, shape);
      expectClose(fused, naive, 1e-5, 0);
    });
  }
});

describe('synergy', () => {
  const weights = { both: 0.8, sam: 0.1, dino: 0.1 };
  for (const n of [1, 63, 4096, 65535 * 64 + 5]) {
    gpuIt(`${n} values`, async ({ kernels }) => {
      const a = randomArray(n, 10);
      const b = randomArray(n, 11);
      expectClose(await kernels.synergy(a, b, weights), synergyReference(a, b, weights), 1e-6, 1e-6);
    });
  }
});

describe('resize', () => {
  const up = [
    { B: 1, inH: 1, inW: 1, outH: 5, outW: 3 },
    { B: 2, inH: 64, inW: 64, outH: 256, outW: 256 },
    { B: 1, inH: 7, inW: 13, outH: 30, outW: 41 },
  ];
  for (const s of up) {
    gpuIt(`bilinear ${s.inH}×${s.inW} → ${s.outH}×${s.outW} (B=${s.B})`, async ({ kernels }) => {
      const maps = randomArray(s.B * s.inH * s.inW, 12);
      expectClose(await kernels.upsampleBilinear(maps, s), upsampleBilinearReference(maps, s), 1e-5, 1e-5);
    });
  }

  const down: { name: string; s: { B: number; inH: number; inW: number; outH: number; outW: number }; mask: Uint8Array }[] = [
    { name: 'disc 256 → 64', s: { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 }, mask: discMask(256, 256, 100, 140, 40) },
    { name: 'thin line (fallback to any overlap)', s: { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 }, mask: discMask(256, 256, 10, 10, 1) },
    { name: 'empty mask', s: { B: 1, inH: 8, inW: 8, outH: 2, outW: 2 }, mask: new Uint8Array(64) },
    { name: 'batch of random masks, 1×1 output', s: { B: 3, inH: 4, inW: 6, outH: 1, outW: 1 }, mask: randomMask(72, 13, 0.4) },
  ];
  for (const { name, s, mask } of down) {
    gpuIt(`area mask ${name}`, async ({ kernels }) => {
      const out = await kernels.downsampleMask(mask, s);
      expect(Array.from(out)).toEqual(Array.from(downsampleMaskReference(mask, s)));
    });
  }

  it('the fallback keeps a thin organ that the 0.5 threshold would drop', async () => {
    const s = { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 };
    const out = await cpuKernels().downsampleMask(discMask(256, 256, 10, 10, 1), s);
    expect(out.some((v) => v === 1)).toBe(true);
  });
});

describe('moments', () => {
  const cases = [
    { name: 'one value', B: 1, N: 1, lo: -1, hi: 1, density: 1 },
    { name: '255 values, half masked', B: 2, N: 255, lo: -1, hi: 1, density: 0.5 },
    { name: '65,536 values offset by 1000 (stability)', B: 1, N: 65536, lo: 1000, hi: 1000.01, density: 1 },
    { name: 'empty mask', B: 1, N: 100, lo: 0, hi: 1, density: 0 },
  ];
  for (const c of cases) {
    gpuIt(c.name, async ({ kernels }) => {
      const values = randomArray(c.B * c.N, 14, c.lo, c.hi);
      const mask = randomMask(c.B * c.N, 15, c.density);
      const got = await kernels.moments(values, mask, c);
      const want = momentsReference(values, mask, c);
      got.forEach((m, b) => {
        expect(m.count).toBe(want[b]!.count);
        expectClose([m.mean], [want[b]!.mean], 1e-6, 1e-6);
        // Stability: the std of values spread 0.01 wide around 1000 must keep 3 digits.
        expectClose([m.std], [want[b]!.std], 1e-6, 1e-3);
      });
    });
  }

  gpuIt('constant values have zero spread', async ({ kernels }) => {
    const [m] = await kernels.moments(new Float32Array(1000).fill(3.5), null, { B: 1, N: 1000 });
    expect(m).toEqual({ count: 1000, mean: 3.5, std: 0 });
  });
});

describe('band', () => {
  const cases = [
    { name: 'one value inside', B: 1, N: 1, bounds: [[-1, 1]] as [number, number][] },
    {
      name: '257 values, batch with own bounds',
      B: 2,
      N: 257,
      bounds: [
        [-0.2, 0.3],
        [0.5, 2],
      ] as [number, number][],
    },
    { name: '65,536 values', B: 1, N: 65536, bounds: [[0.1, 0.15]] as [number, number][] },
    { name: 'empty band', B: 1, N: 500, bounds: [[5, 6]] as [number, number][] },
    { name: 'everything', B: 1, N: 70000, bounds: [[-1, 1]] as [number, number][] },
  ];
  for (const c of cases) {
    gpuIt(c.name, async ({ kernels }) => {
      const values = randomArray(c.B * c.N, 16);
      const got = await kernels.band(values, c.bounds, c);
      const want = bandReference(values, c.bounds, c);
      got.forEach((row, b) => expect(Array.from(row)).toEqual(Array.from(want[b]!)));
    });
  }
});

describe('topk', () => {
  const cases = [
    { name: 'k = N = 1', B: 1, N: 1, k: 1, values: null },
    { name: 'N = 1000, k = 32', B: 1, N: 1000, k: 32, values: null },
    { name: 'batch of 3, N = 4097, k = 100', B: 3, N: 4097, k: 100, values: null },
    { name: 'N = 65,536, k = 1024', B: 1, N: 65536, k: 1024, values: null },
    { name: 'all ties go to the lower index', B: 1, N: 600, k: 17, values: new Float32Array(600).fill(0.5) },
    { name: 'two tie levels', B: 1, N: 2000, k: 40, values: Float32Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? 1 : 0)) },
  ];
  for (const c of cases) {
    gpuIt(
      c.name,
      async ({ kernels }) => {
        const values = c.values ?? randomArray(c.B * c.N, 17);
        const got = await kernels.topk(values, c, c.k);
        const want = topkReference(values, c, c.k);
        got.forEach((row, b) => {
          expect(Array.from(row.indices)).toEqual(Array.from(want[b]!.indices));
          expect(Array.from(row.values)).toEqual(Array.from(want[b]!.values));
        });
      },
      120_000,
    );
  }
});

describe('kmeans', () => {
  const blobs = (n: number, seed: number): Float32Array => {
    const centres = [
      [20, 30],
      [200, 40],
      [120, 220],
      [60, 160],
    ];
    const noise = randomArray(2 * n, seed, -15, 15);
    return Float32Array.from({ length: 2 * n }, (_, t) => centres[Math.floor(t / 2) % 4]![t % 2]! + noise[t]!);
  };
  const cases = [
    { name: 'one point, k = 1', rows: [Float32Array.of(3, 4)], k: 1 },
    { name: '32 points, k = 4', rows: [blobs(32, 18)], k: 4 },
    { name: 'k > N (3 points, k = 8)', rows: [Float32Array.of(0, 0, 5, 5, 9, 1)], k: 8 },
    { name: 'duplicate points only', rows: [new Float32Array(40).fill(7)], k: 4 },
    { name: 'batch of sets with different sizes', rows: [blobs(32, 19), blobs(100, 20), blobs(5, 21)], k: 4 },
    { name: '5,000 points, k = 16', rows: [blobs(5000, 22)], k: 16 },
  ];
  for (const c of cases) {
    gpuIt(c.name, async ({ kernels }) => {
      const request = { k: c.k, seed: 1234 };
      const got = await kernels.kmeans(c.rows, request);
      const want = await cpuKernels().kmeans(c.rows, request);
      got.forEach((r, b) => {
        expect(Array.from(r.sizes)).toEqual(Array.from(want[b]!.sizes));
        expect(Array.from(r.assignments)).toEqual(Array.from(want[b]!.assignments));
        expect(r.iterations).toBe(want[b]!.iterations);
        expectClose(r.centroids, want[b]!.centroids, 1e-3, 1e-5);
      });
    });
  }
});

describe('morphology', () => {
  const elements: StructuringElement[] = [
    { shape: 'square', radius: 0 },
    { shape: 'square', radius: 1 },
    { shape: 'disc', radius: 3 },
  ];
  const images = [
    { name: '1×1 set', s: { B: 1, H: 1, W: 1 }, mask: Uint8Array.of(1) },
    { name: 'random 37×53, batch 2', s: { B: 2, H: 37, W: 53 }, mask: randomMask(2 * 37 * 53, 23, 0.6) },
    { name: '256×256 disc touching the border', s: { B: 1, H: 256, W: 256 }, mask: discMask(256, 256, 250, 128, 30) },
    { name: 'empty', s: { B: 1, H: 20, W: 20 }, mask: new Uint8Array(400) },
  ];
  for (const { name, s, mask } of images) {
    for (const element of elements) {
      for (const op of ['erode', 'dilate'] as const) {
        gpuIt(`${op} ${name} with ${element.shape} r=${element.radius}`, async ({ kernels }) => {
          const got = await kernels.morphology(mask, s, op, element);
          expect(Array.from(got)).toEqual(Array.from(morphologyReference(mask, s, op, element)));
        });
      }
    }
  }
});

describe('components', () => {
  const spiral = (n: number): Uint8Array => {
    // A one-pixel-wide spiral: one component whose labels must travel the whole image.
    const m = new Uint8Array(n * n);
    let [x0, y0, x1, y1] = [0, 0, n - 1, n - 1];
    while (x0 <= x1 && y0 <= y1) {
      for (let x = x0; x <= x1; x++) m[y0 * n + x] = 1;
      for (let y = y0; y <= y1; y++) m[y * n + x1] = 1;
      if (y1 - 2 > y0) for (let x = x0; x <= x1; x++) m[y1 * n + x] = 1;
      if (x0 + 2 < x1) for (let y = y0 + 2; y <= y1; y++) m[y * n + x0] = 1;
      x0 += 2;
      y0 += 2;
      x1 -= 2;
      y1 -= 2;
      if (x0 < n && y0 < n) m[y0 * n + x0 - 1] = 1;
    }
    return m;
  };
  const cases = [
    { name: '1×1 set', s: { B: 1, H: 1, W: 1 }, mask: Uint8Array.of(1) },
    { name: 'random 61×67, batch 2', s: { B: 2, H: 61, W: 67 }, mask: randomMask(2 * 61 * 67, 24, 0.45) },
    { name: '256×256 random', s: { B: 1, H: 256, W: 256 }, mask: randomMask(65536, 25, 0.55) },
    { name: '64×64 spiral', s: { B: 1, H: 64, W: 64 }, mask: spiral(64) },
    { name: 'diagonal pixels (differ between 4 and 8)', s: { B: 1, H: 9, W: 9 }, mask: Uint8Array.from({ length: 81 }, (_, i) => (i % 10 === 0 ? 1 : 0)) },
    { name: 'empty', s: { B: 1, H: 16, W: 16 }, mask: new Uint8Array(256) },
  ];
  for (const { name, s, mask } of cases) {
    for (const connectivity of [4, 8] as Connectivity[]) {
      gpuIt(`${name}, ${connectivity}-connected`, async ({ kernels }) => {
        const values = randomArray(mask.length, 26);
        const got = await kernels.components(mask, values, s, connectivity);
        const want = componentsReference(mask, values, s, connectivity);
        got.forEach((slice, b) => {
          const ref = want[b]!;
          expect(Array.from(slice.labels)).toEqual(Array.from(ref.labels));
          expect(slice.components.map((c) => [c.label, c.first, c.size])).toEqual(ref.components.map((c) => [c.label, c.first, c.size]));
          expectClose(
            slice.components.map((c) => c.sum),
            ref.components.map((c) => c.sum),
            1e-4,
            1e-5,
          );
        });
      });
    }
  }
});

describe('gaussian', () => {
  const cases = [
    { s: { B: 1, H: 1, W: 1 }, sigma: 1 },
    { s: { B: 2, H: 37, W: 53 }, sigma: 2.5 },
    { s: { B: 1, H: 256, W: 256 }, sigma: 16 },
    { s: { B: 1, H: 10, W: 10 }, sigma: 8 }, // radius wider than the image: clamped edges
  ];
  for (const { s, sigma } of cases) {
    gpuIt(`σ=${sigma} on ${s.B}×${s.H}×${s.W}`, async ({ kernels }) => {
      const maps = randomArray(s.B * s.H * s.W, 27, 0, 1);
      expectClose(await kernels.gaussian(maps, s, sigma), gaussianReference(maps, s, sigma), 1e-5, 1e-4);
    });
  }
  it('preserves a constant image', () => {
    const out = gaussianReference(new Float32Array(400).fill(0.3), { B: 1, H: 20, W: 20 }, 3);
    expectClose(out, new Float32Array(400).fill(0.3), 1e-6, 0);
  });
});

describe('features (weight-free appearance encoder)', () => {
  const cases = [
    { s: { B: 1, H: 8, W: 8 }, spec: { sigmas: [1], pool: 2 } },
    { s: { B: 2, H: 64, W: 48 }, spec: { sigmas: [1, 4], pool: 4 } },
    { s: { B: 1, H: 256, W: 256 }, spec: { sigmas: [1, 2, 4, 8, 16], pool: 4 } },
    { s: { B: 2, H: 256, W: 256 }, spec: { sigmas: [1, 2, 4, 8, 16], pool: 4, prePool: 2 } },
  ];
  for (const { s, spec } of cases) {
    gpuIt(`${s.B}×${s.H}×${s.W}, σ ∈ {${spec.sigmas.join(', ')}}, pool ${spec.pool}, prePool ${spec.prePool ?? 1}`, async ({ kernels }) => {
      const slices = randomArray(s.B * s.H * s.W, 28, 0, 1);
      expectClose(await kernels.appearance(slices, s, spec), appearanceReference(slices, s, spec), 2e-3, 2e-3);
    });
  }
  it('every channel is standardised (mean 0, std 1)', () => {
    const s = { B: 1, H: 32, W: 32 };
    const out = appearanceReference(randomArray(1024, 29, 0, 1), s, { sigmas: [1, 2], pool: 4 });
    for (let c = 0; c < 4; c++) {
      const row = out.subarray(c * 64, (c + 1) * 64);
      const mean = row.reduce((a, b) => a + b, 0) / 64;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 64 - 1)).toBeLessThan(1e-3);
    }
  });
});

describe('random-walker', () => {
  /** Two flat regions split by a vertical edge at x = split, with noise. */
  function twoRegions(H: number, W: number, split: number, seed: number): Float32Array {
    const noise = randomArray(H * W, seed, -0.03, 0.03);
    return Float32Array.from({ length: H * W }, (_, i) => (i % W < split ? 0.7 : 0.3) + noise[i]!);
  }
  const options = { beta: 130, gamma: 0.05, maxIterations: 300, tolerance: 1e-4 };
  const cases = [
    { name: 'one slice, one seed each side', B: 1, H: 32, W: 40 },
    { name: 'batch of 3 slices, 128×128', B: 3, H: 128, W: 128 },
    { name: 'no seeds: the prior alone', B: 1, H: 16, W: 16, noSeeds: true },
  ];
  for (const c of cases) {
    gpuIt(
      c.name,
      async ({ kernels }) => {
        const s = { B: c.B, H: c.H, W: c.W };
        const plane = c.H * c.W;
        const image = new Float32Array(c.B * plane);
        const seeds = new Uint8Array(c.B * plane);
        const prior = new Float32Array(c.B * plane).fill(0.5);
        for (let b = 0; b < c.B; b++) {
          const split = Math.floor(c.W / 2) + b;
          image.set(twoRegions(c.H, c.W, split, 30 + b), b * plane);
          if (!c.noSeeds) {
            seeds[b * plane + Math.floor(c.H / 2) * c.W + 2] = SEED_FOREGROUND;
            seeds[b * plane + Math.floor(c.H / 2) * c.W + c.W - 3] = SEED_BACKGROUND;
          }
        }
        const got = await kernels.randomWalker(image, seeds, prior, s, options);
        const want = randomWalkerReference(image, seeds, prior, s, options);
        expectClose(got.probability, want.probability, 2e-3, 0);
        for (let b = 0; b < c.B; b++) expect(Math.abs(got.iterations[b]! - want.iterations[b]!)).toBeLessThanOrEqual(3);
        if (!c.noSeeds) {
          // The walk follows the edge: left of it is foreground, right of it background.
          const row = Math.floor(c.H / 2) * c.W;
          expect(want.probability[row + 1]).toBeGreaterThan(0.5);
          expect(want.probability[row + c.W - 2]).toBeLessThan(0.5);
        }
      },
      120_000,
    );
  }
});
