/**
 * Every kernel validates before dispatch, and both paths refuse the same inputs with a message
 * that says what was wrong: mismatched shapes, zero-length inputs, k > N, non-finite values,
 * buffers over the device's limits.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import { cpuKernels, gpuKernels, GpuRuntime, HostTensor, ShapeError, type Kernels } from '../src/index.ts';
import {
  band,
  bestComponent,
  components,
  confidence,
  confidenceNaive,
  downsampleMask,
  kmeans,
  moments,
  morphology,
  prepareSlices,
  prototype,
  synergy,
  topk,
  upsampleBilinear,
} from '../src/kernels/index.ts';
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

const f32 = (shape: number[], data?: Float32Array) => new HostTensor('f32', shape, data ?? f(shape.reduce((a, d) => a * d, 1)));
const mask = (shape: number[], data?: Uint8Array) => new HostTensor('mask', shape, data ?? new Uint8Array(shape.reduce((a, d) => a * d, 1)));
const u32 = (shape: number[], data: Uint32Array) => new HostTensor('u32', shape, data);
const w = { both: 0.8, sam: 0.1, dino: 0.1 };

const cases: BadCase[] = [
  {
    name: 'prototype: mask length differs from N',
    call: (k) => k.run(prototype, { features: f32([1, 4, 6]), masks: mask([5]) }, { B: 1, C: 4, N: 6 }),
    message: /mask has 5 values, the shape needs 6/,
  },
  {
    name: 'prototype: empty support mask',
    call: (k) => k.run(prototype, { features: f32([1, 4, 6]), masks: mask([1, 6]) }, { B: 1, C: 4, N: 6 }),
    message: /no foreground cell/,
  },
  {
    name: 'prototype: NaN in the features',
    call: (k) => k.run(prototype, { features: f32([1, 4, 6], withNaN(24, 7)), masks: mask([1, 6], Uint8Array.of(1, 0, 0, 0, 0, 0)) }, { B: 1, C: 4, N: 6 }),
    message: /features\[7\] is NaN/,
  },
  {
    name: 'confidence: zero-length shape',
    call: (k) => k.run(confidence, { features: f32([0]), prototypes: f32([4]) }, { B: 1, C: 4, N: 0 }),
    message: /N must be a positive integer/,
  },
  {
    name: 'confidence: prototype of the wrong width',
    call: (k) => k.run(confidence, { features: f32([1, 4, 6]), prototypes: f32([3]) }, { B: 1, C: 4, N: 6 }),
    message: /prototype has 3 values/,
  },
  {
    name: 'confidence: Inf in the features',
    call: (k) => k.run(confidence, { features: f32([1, 4, 6], withInf(24, 2)), prototypes: f32([4]) }, { B: 1, C: 4, N: 6 }),
    message: /features\[2\] is -Infinity/,
  },
  {
    name: 'confidence-naive: support of another size',
    call: (k) => k.run(confidenceNaive, { query: f32([1, 4, 6]), support: f32([20]) }, { B: 1, C: 4, N: 6, supportMask: Uint8Array.of(1, 0, 0, 0, 0, 0) }),
    message: /support features has 20 values/,
  },
  { name: 'synergy: maps of different length', call: (k) => k.run(synergy, { a: f32([10]), b: f32([11]) }, w), message: /second map has 11 values/ },
  { name: 'synergy: empty maps', call: (k) => k.run(synergy, { a: f32([0]), b: f32([0]) }, w), message: /empty/ },
  {
    name: 'resize: non-integer area factor',
    call: (k) => k.run(downsampleMask, { masks: mask([1, 100]) }, { B: 1, inH: 10, inW: 10, outH: 3, outW: 3 }),
    message: /integer factors/,
  },
  {
    name: 'resize: NaN in a map',
    call: (k) => k.run(upsampleBilinear, { maps: f32([1, 4], withNaN(4, 3)) }, { B: 1, inH: 2, inW: 2, outH: 4, outW: 4 }),
    message: /maps\[3\] is NaN/,
  },
  {
    name: 'moments: NaN among the selected values',
    call: (k) => k.run(moments, { values: f32([1, 10], withNaN(10, 4)), mask: null }, { B: 1, N: 10 }),
    message: /values\[4\] is NaN/,
  },
  {
    name: 'band: one bound for two rows',
    call: (k) => k.run(band, { values: f32([2, 10]), bounds: f32([1, 2], Float32Array.of(0, 1)) }, { B: 2, N: 10 }),
    message: /1 bounds for 2 rows/,
  },
  { name: 'topk: k > N', call: (k) => k.run(topk, { values: f32([1, 10]) }, { B: 1, N: 10, k: 11 }), message: /k = 11 exceeds the 10 values/ },
  { name: 'topk: k above 1024', call: (k) => k.run(topk, { values: f32([1, 5000]) }, { B: 1, N: 5000, k: 1025 }), message: /supported maximum of 1024/ },
  { name: 'topk: k = 0', call: (k) => k.run(topk, { values: f32([1, 10]) }, { B: 1, N: 10, k: 0 }), message: /k must be a positive integer/ },
  {
    name: 'kmeans: an empty point set',
    call: (k) =>
      k.run(
        kmeans,
        { points: f32([1, 0, 2]), counts: u32([1], Uint32Array.of(0)), draws: u32([1, 2], Uint32Array.of(1, 2)) },
        { B: 1, n: 0, k: 2, maxIterations: 10 },
      ),
    message: /n must be a positive integer/,
  },
  {
    name: 'kmeans: points of the wrong length',
    call: (k) =>
      k.run(
        kmeans,
        { points: f32([5]), counts: u32([1], Uint32Array.of(2)), draws: u32([1, 2], Uint32Array.of(1, 2)) },
        { B: 1, n: 2, k: 2, maxIterations: 10 },
      ),
    message: /points has 5 values, the shape needs 4/,
  },
  {
    name: 'kmeans: NaN coordinate',
    call: (k) =>
      k.run(
        kmeans,
        { points: f32([1, 4, 2], withNaN(8, 1)), counts: u32([1], Uint32Array.of(4)), draws: u32([1, 2], Uint32Array.of(1, 2)) },
        { B: 1, n: 4, k: 2, maxIterations: 10 },
      ),
    message: /points\[1\] is NaN/,
  },
  {
    name: 'morphology: negative radius',
    call: (k) => k.run(morphology, { masks: mask([1, 4]) }, { B: 1, H: 2, W: 2, op: 'erode', element: { shape: 'disc', radius: -1 } }),
    message: /radius must be an integer/,
  },
  {
    name: 'morphology: mask of the wrong size',
    call: (k) => k.run(morphology, { masks: mask([5]) }, { B: 1, H: 2, W: 2, op: 'erode', element: { shape: 'square', radius: 1 } }),
    message: /masks has 5 values/,
  },
  {
    name: 'components: connectivity 6',
    call: (k) => k.run(components, { masks: mask([1, 4]) }, { B: 1, H: 2, W: 2, connectivity: 6 as 4 }),
    message: /connectivity must be 4 or 8/,
  },
  {
    name: 'components: Inf in the value map',
    call: (k) => k.run(bestComponent, { masks: mask([1, 4]), values: f32([1, 4], withInf(4, 0)) }, { B: 1, H: 2, W: 2, connectivity: 4 }),
    message: /values\[0\] is -Infinity/,
  },
  {
    name: 'prepareSlices: fewer words than the voxels need',
    call: (k) =>
      k.run(
        prepareSlices,
        { voxels: u32([5], new Uint32Array(5)) },
        { format: 'i16', nx: 4, ny: 3, nz: 1, region: [0, 0, 4, 3], lo: 0, span: 1, outH: 4, outW: 4 },
      ),
    message: /voxels \(u32 words\) has 5 values, the shape needs 6/,
  },
  {
    name: 'prepareSlices: a region outside the slices',
    call: (k) =>
      k.run(
        prepareSlices,
        { voxels: u32([3], new Uint32Array(3)) },
        { format: 'u8', nx: 4, ny: 3, nz: 1, region: [1, 0, 4, 3], lo: 0, span: 1, outH: 4, outW: 4 },
      ),
    message: /region 1, 0, 4, 3 \(x0, y0, width, height\) is not inside 4×3 slices/,
  },
  {
    name: 'prepareSlices: a span of 0',
    call: (k) =>
      k.run(
        prepareSlices,
        { voxels: u32([1], new Uint32Array(1)) },
        { format: 'f32', nx: 1, ny: 1, nz: 1, region: [0, 0, 1, 1], lo: 0, span: 0, outH: 1, outW: 1 },
      ),
    message: /lo 0 and span 0 must be finite, the span above 0/,
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
  it('a tensor over the binding limit is refused clearly, before anything is submitted', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const small = new GpuRuntime(gpu.current.handle.device, { maxBindingBytes: 1024 });
    const before = small.snapshotTransfers().submits;
    const error = await gpuKernels(small)
      .run(synergy, { a: f32([1000]), b: f32([1000]) }, w)
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/needs 4000 bytes, over the 1024-byte storage binding limit of this device; split the batch/);
    expect(small.snapshotTransfers().submits).toBe(before);
    small.destroy();
  });
});
