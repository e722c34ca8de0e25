/**
 * Every kernel against its CPU reference: the cases of every kernel folder (src/kernels/<name>/
 * cases.ts) run on the GPU and on the reference, and every registered kernel must have cases.
 * Then what the references mean, checked directly (the fused confidence is the paper's literal
 * mean of cosines, a blur keeps a constant image, the walk follows an edge, …).
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it, type TestContext } from 'vitest';
import { cpuKernels, HostTensor } from '../src/index.ts';
import type { AnyKernelCase } from '../src/kernels/cases.ts';
import { walkerInputs } from '../src/kernels/random-walker/cases.ts';
import {
  appearanceReference,
  componentLabelsReference,
  confidence,
  confidenceNaive,
  downsampleMaskReference,
  gaussianReference,
  KERNELS,
  morphologyReference,
  prototype,
  randomWalkerReference,
} from '../src/kernels/index.ts';
import { discMask, expectClose, randomArray, randomMask, useGpu } from './gpu.ts';

const gpu = useGpu();

const folders = readdirSync(new URL('../src/kernels/', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();
const tables = await Promise.all(
  folders.map(async (f) => ({ folder: f, cases: ((await import(`../src/kernels/${f}/cases.ts`)) as { cases: AnyKernelCase[] }).cases })),
);

type Tolerance = { atol: number; rtol: number } | undefined;

/** GPU and CPU outputs (or their views) alike: same dtypes and shapes, u32 and masks equal, f32 within `tol` (equal without one). */
function expectAlike(got: unknown, want: unknown, tol: Tolerance, where: string): void {
  if (want instanceof HostTensor) {
    expect(got, where).toBeInstanceOf(HostTensor);
    const g = got as HostTensor;
    expect([g.dtype, g.shape], `${where}: dtype and shape`).toEqual([want.dtype, want.shape]);
    if (want.dtype !== 'f32' || !tol) {
      const same = Buffer.from(g.data.buffer, g.data.byteOffset, g.data.byteLength).equals(
        Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength),
      );
      if (!same) expect(Array.from(g.data), where).toEqual(Array.from(want.data));
    } else expectClose(g.data, want.data, tol.atol, tol.rtol);
  } else if (ArrayBuffer.isView(want) || Array.isArray(want)) {
    const w = want as ArrayLike<unknown>;
    const g = got as ArrayLike<unknown>;
    expect(g.length, `${where}: length`).toBe(w.length);
    for (let i = 0; i < w.length; i++) expectAlike(g[i], w[i], tol, `${where}[${i}]`);
  } else if (typeof want === 'number' && tol) {
    expect(Math.abs((got as number) - want) <= tol.atol + tol.rtol * Math.abs(want), `${where}: got ${String(got)}, expected ${want}`).toBe(true);
  } else if (want && typeof want === 'object') {
    expect(Object.keys(got as object).sort(), where).toEqual(Object.keys(want).sort());
    for (const [k, v] of Object.entries(want)) expectAlike((got as Record<string, unknown>)[k], v, tol, `${where}.${k}`);
  } else expect(got, where).toEqual(want);
}

describe('the registry', () => {
  it('every kernel folder has cases, and every registered kernel is among them', () => {
    expect(tables.map((t) => t.folder)).toEqual(folders);
    const covered = new Set(tables.flatMap((t) => t.cases.map((c) => c.kernel.name)));
    expect([...Object.keys(KERNELS)].filter((name) => !covered.has(name))).toEqual([]);
    // A definition's name is its registry key.
    for (const [key, def] of Object.entries(KERNELS)) expect(def.name).toBe(key);
  });
});

for (const { folder, cases } of tables) {
  describe(`kernels/${folder}`, () => {
    for (const c of cases) {
      it(
        `${c.kernel.name}: ${c.name}`,
        async (ctx: TestContext) => {
          if (!gpu.current) return ctx.skip(gpu.skipReason);
          const inputs = c.inputs();
          const got = await gpu.current.kernels.run(c.kernel, inputs, c.params);
          const want = await cpuKernels().run(c.kernel, inputs, c.params);
          if (c.view) expectAlike(c.view(got), c.view(want), c.tolerance, c.kernel.name);
          else expectAlike(got, want, c.tolerance, c.kernel.name);
        },
        c.timeout ?? 60_000,
      );
    }
  });
}

describe('what the references mean', () => {
  it("the fused confidence is the paper's literal mean of cosines (on each path there is)", async () => {
    for (const { density, ...shape } of [
      { B: 1, C: 1, N: 1, density: 1 },
      { B: 2, C: 16, N: 257, density: 0.2 },
      { B: 1, C: 64, N: 4096, density: 0.02 },
    ]) {
      const query = new HostTensor('f32', [shape.B, shape.C, shape.N], randomArray(shape.B * shape.C * shape.N, 7));
      const support = new HostTensor('f32', [shape.C, shape.N], randomArray(shape.C * shape.N, 8));
      const mask = randomMask(shape.N, 9, density);
      mask[0] = 1;
      for (const kernels of [cpuKernels(), ...(gpu.current ? [gpu.current.kernels] : [])]) {
        const naive = await kernels.run(confidenceNaive, { query, support }, { ...shape, supportMask: mask });
        const proto = await kernels.run(
          prototype,
          { features: new HostTensor('f32', [1, shape.C, shape.N], support.data), masks: new HostTensor('mask', [1, shape.N], mask) },
          { ...shape, B: 1 },
        );
        const fused = await kernels.run(confidence, { features: query, prototypes: new HostTensor('f32', [shape.C], proto.data) }, shape);
        expectClose(fused.data, naive.data, 1e-5, 0);
      }
    }
  });

  it("a reference's working memory, reused between calls, leaves nothing of a larger call behind", () => {
    // A large call first fills the references' scratch (scratch.ts) with its own values: a
    // checkerboard under 4-connectivity makes every other pixel a component's root.
    const board = Uint8Array.from({ length: 4 * 64 * 64 }, (_, i) => (i + Math.floor(i / 64)) % 2);
    componentLabelsReference(board, { B: 4, H: 64, W: 64 }, 4);
    morphologyReference(randomMask(4 * 64 * 64, 42, 0.6), { B: 4, H: 64, W: 64 }, 'dilate', { shape: 'square', radius: 2 });
    gaussianReference(randomArray(4 * 64 * 64, 43), { B: 4, H: 64, W: 64 }, 4);
    const [H, W] = [9, 11];
    const mask = randomMask(H * W, 44, 0.4);
    // Components: each root's size is the count of pixels labelled with it; every other pixel's is 0.
    const { roots, sizes } = componentLabelsReference(mask, { B: 1, H, W }, 4);
    roots.forEach((r, i) => expect(sizes[i], `pixel ${i}`).toBe(r === i ? roots.filter((q) => q === i).length : 0));
    // Dilation by a 3×3 square, pixel by pixel.
    const dilated = morphologyReference(mask, { B: 1, H, W }, 'dilate', { shape: 'square', radius: 1 });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        let any = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) any ||= mask[(y + dy) * W + x + dx] && x + dx >= 0 && x + dx < W ? 1 : 0;
        expect(dilated[y * W + x], `(${x}, ${y})`).toBe(any);
      }
    }
    // The blur of a constant image, after a blur of noise.
    expectClose(gaussianReference(new Float32Array(H * W).fill(0.7), { B: 1, H, W }, 1), new Float32Array(H * W).fill(0.7), 1e-6, 0);
  });

  it("the blur is each pixel's weighted sum of its clamped neighbours, row pass then column pass", () => {
    // Plainly, pixel by pixel; the reference sums four pixels side by side, so shapes whose width is
    // not a multiple of four and radii reaching past the edges are the ones to check.
    for (const [B, H, W, sigma] of [
      [2, 7, 9, 0.5],
      [1, 13, 6, 2],
      [1, 5, 17, 1],
      [1, 3, 4, 3],
    ] as const) {
      const maps = randomArray(B * H * W, 45);
      const r = Math.max(1, Math.ceil(3 * sigma));
      const w = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
      const sum = w.reduce((a, b) => a + b, 0);
      const at = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));
      const rows = new Float64Array(B * H * W);
      const want = new Float32Array(B * H * W);
      for (let b = 0; b < B; b++) {
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            let a = 0;
            for (let d = -r; d <= r; d++) a += w[d + r]! * maps[(b * H + y) * W + at(x + d, W)]!;
            rows[(b * H + y) * W + x] = a / sum;
          }
        }
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            let a = 0;
            for (let d = -r; d <= r; d++) a += w[d + r]! * rows[(b * H + at(y + d, H)) * W + x]!;
            want[(b * H + y) * W + x] = a / sum;
          }
        }
      }
      expect(gaussianReference(maps, { B, H, W }, sigma), `${B}×${H}×${W}, σ ${sigma}`).toEqual(want);
    }
  });

  it('a constant image stays constant under the blur', () => {
    expectClose(gaussianReference(new Float32Array(400).fill(0.3), { B: 1, H: 20, W: 20 }, 3), new Float32Array(400).fill(0.3), 1e-6, 0);
  });

  it('every appearance channel is standardised (mean 0, std 1)', () => {
    const out = appearanceReference(randomArray(1024, 29, 0, 1), { B: 1, H: 32, W: 32 }, { sigmas: [1, 2], pool: 4 });
    for (let c = 0; c < 4; c++) {
      const row = out.subarray(c * 64, (c + 1) * 64);
      const mean = row.reduce((a, b) => a + b, 0) / 64;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(row.reduce((a, b) => a + (b - mean) ** 2, 0) / 64 - 1)).toBeLessThan(1e-3);
    }
  });

  it('the mask downsampling keeps a thin organ that the 0.5 threshold would drop', () => {
    const out = downsampleMaskReference(discMask(256, 256, 10, 10, 1), { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 });
    expect(out.some((v) => v === 1)).toBe(true);
  });

  it('the random walk follows the edge: foreground left of it, background right of it', () => {
    const [B, H, W] = [3, 64, 64];
    const { image, seeds, prior } = walkerInputs(B, H, W);
    const r = randomWalkerReference(image.data, seeds.data, prior.data, { B, H, W }, { beta: 130, gamma: 0.05, maxIterations: 300, tolerance: 1e-4 });
    for (let b = 0; b < B; b++) {
      const row = b * H * W + (H / 2) * W;
      expect(r.probability[row + 1]).toBeGreaterThan(0.5);
      expect(r.probability[row + W - 2]).toBeLessThan(0.5);
      expect(r.iterations[b]).toBeGreaterThan(0);
    }
  });
});
