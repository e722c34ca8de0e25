/**
 * Every wrapper validates before dispatch, and both paths refuse the same inputs with a message
 * that says what was wrong: mismatched shapes, zero-length inputs, k > N, non-finite values,
 * buffers over the device's limits.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import { cpuKernels, gpuKernels, GpuRuntime, ShapeError, type Kernels } from '../src/index.ts';
import { randomArray, useGpu } from './gpu.ts';

const gpu = useGpu();

interface BadCase {
  name: string;
  call: (k: Kernels) => Promise<unknown>;
  message: RegExp;
}

const f = (n: number) => randomArray(n, 1);
const withNaN = (n: number, at: number) => {
  const a = f(n);
  a[at] = NaN;
  return a;
};
const withInf = (n: number, at: number) => {
  const a = f(n);
  a[at] = -Infinity;
  return a;
};

const cases: BadCase[] = [
  {
    name: 'prototype: mask length differs from N',
    call: (k) => k.prototype(f(24), new Uint8Array(5), { B: 1, C: 4, N: 6 }),
    message: /mask has 5 values, the shape needs 6/,
  },
  { name: 'prototype: empty support mask', call: (k) => k.prototype(f(24), new Uint8Array(6), { B: 1, C: 4, N: 6 }), message: /no foreground cell/ },
  {
    name: 'prototype: NaN in the features',
    call: (k) => k.prototype(withNaN(24, 7), Uint8Array.of(1, 0, 0, 0, 0, 0), { B: 1, C: 4, N: 6 }),
    message: /features\[7\] is NaN/,
  },
  {
    name: 'confidence: zero-length shape',
    call: (k) => k.confidence(new Float32Array(0), f(4), { B: 1, C: 4, N: 0 }),
    message: /N must be a positive integer/,
  },
  { name: 'confidence: prototype of the wrong width', call: (k) => k.confidence(f(24), f(3), { B: 1, C: 4, N: 6 }), message: /prototype has 3 values/ },
  { name: 'confidence: Inf in the features', call: (k) => k.confidence(withInf(24, 2), f(4), { B: 1, C: 4, N: 6 }), message: /features\[2\] is -Infinity/ },
  {
    name: 'confidence-naive: support of another size',
    call: (k) => k.confidenceNaive(f(24), f(20), Uint8Array.of(1, 0, 0, 0, 0, 0), { B: 1, C: 4, N: 6 }),
    message: /support features has 20 values/,
  },
  { name: 'synergy: maps of different length', call: (k) => k.synergy(f(10), f(11), { both: 0.8, sam: 0.1, dino: 0.1 }), message: /second map has 11 values/ },
  { name: 'synergy: empty maps', call: (k) => k.synergy(new Float32Array(0), new Float32Array(0), { both: 0.8, sam: 0.1, dino: 0.1 }), message: /empty/ },
  {
    name: 'resize: non-integer area factor',
    call: (k) => k.downsampleMask(new Uint8Array(100), { B: 1, inH: 10, inW: 10, outH: 3, outW: 3 }),
    message: /integer factors/,
  },
  { name: 'resize: NaN in a map', call: (k) => k.upsampleBilinear(withNaN(4, 3), { B: 1, inH: 2, inW: 2, outH: 4, outW: 4 }), message: /maps\[3\] is NaN/ },
  { name: 'moments: NaN among the selected values', call: (k) => k.moments(withNaN(10, 4), null, { B: 1, N: 10 }), message: /values\[4\] is NaN/ },
  { name: 'band: one bound for two rows', call: (k) => k.band(f(20), [[0, 1]], { B: 2, N: 10 }), message: /1 bounds for 2 rows/ },
  { name: 'topk: k > N', call: (k) => k.topk(f(10), { B: 1, N: 10 }, 11), message: /k = 11 exceeds the 10 values/ },
  { name: 'topk: k above 1024', call: (k) => k.topk(f(5000), { B: 1, N: 5000 }, 1025), message: /supported maximum of 1024/ },
  { name: 'topk: k = 0', call: (k) => k.topk(f(10), { B: 1, N: 10 }, 0), message: /k must be a positive integer/ },
  { name: 'kmeans: an empty point set', call: (k) => k.kmeans([new Float32Array(0)], { k: 2, seed: 1 }), message: /point set 0 is empty/ },
  { name: 'kmeans: odd coordinate count', call: (k) => k.kmeans([f(5)], { k: 2, seed: 1 }), message: /odd number of coordinates/ },
  { name: 'kmeans: NaN coordinate', call: (k) => k.kmeans([withNaN(8, 1)], { k: 2, seed: 1 }), message: /point set 0\[1\] is NaN/ },
  {
    name: 'morphology: negative radius',
    call: (k) => k.morphology(new Uint8Array(4), { B: 1, H: 2, W: 2 }, 'erode', { shape: 'disc', radius: -1 }),
    message: /radius must be an integer/,
  },
  {
    name: 'morphology: mask of the wrong size',
    call: (k) => k.morphology(new Uint8Array(5), { B: 1, H: 2, W: 2 }, 'erode', { shape: 'square', radius: 1 }),
    message: /masks has 5 values/,
  },
  {
    name: 'components: connectivity 6',
    call: (k) => k.components(new Uint8Array(4), null, { B: 1, H: 2, W: 2 }, 6 as 4),
    message: /connectivity must be 4 or 8/,
  },
  {
    name: 'components: Inf in the value map',
    call: (k) => k.components(new Uint8Array(4), withInf(4, 0), { B: 1, H: 2, W: 2 }, 4),
    message: /values\[0\] is -Infinity/,
  },
];

describe('bad input is refused before dispatch, on both paths', () => {
  for (const c of cases) {
    it(`cpu: ${c.name}`, async () => {
      const error = await c.call(cpuKernels()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShapeError);
      expect((error as Error).message).toMatch(c.message);
    });
    it(`gpu: ${c.name}`, async (ctx: TestContext) => {
      if (!gpu.current) return ctx.skip(gpu.skipReason);
      const error = await c.call(gpu.current.kernels).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ShapeError);
      expect((error as Error).message).toMatch(c.message);
    });
  }
});

describe('buffers over the device limits', () => {
  it('confidence splits a batch that does not fit one binding, and still matches the CPU', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const shape = { B: 5, C: 16, N: 1000 };
    // 2 grids per binding: the batch of 5 runs as 3 submissions.
    const small = new GpuRuntime(gpu.current.handle.device, { maxBindingBytes: 2 * shape.C * shape.N * 4 });
    const feats = randomArray(shape.B * shape.C * shape.N, 2);
    const proto = randomArray(shape.C, 3);
    const got = await gpuKernels(small).confidence(feats, proto, shape);
    const want = await cpuKernels().confidence(feats, proto, shape);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-5));
    small.destroy();
  });

  it('a kernel that cannot split refuses clearly', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const small = new GpuRuntime(gpu.current.handle.device, { maxBindingBytes: 1024 });
    const error = await gpuKernels(small)
      .synergy(f(1000), f(1000), { both: 0.8, sam: 0.1, dino: 0.1 })
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/synergy:a needs 4000 bytes, over the 1024-byte storage binding limit/);
    small.destroy();
  });
});
