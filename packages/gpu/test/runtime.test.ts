/** The runtime around the kernels: pipeline cache, buffer pool, profiler, device loss, ml-kmeans. */
import { kmeans as mlKMeans } from 'ml-kmeans';
import { describe, expect, it, type TestContext } from 'vitest';
import {
  compiledPipelineCount,
  cpuKernels,
  createRng,
  fallbackKernels,
  gpuKernels,
  GpuRuntime,
  HostTensor,
  openCompute,
  openGpu,
  packUniforms,
  type Kernels,
} from '../src/index.ts';
import { band, kmeans, kmeansPlusPlus, kmeansReference, moments, synergy, topk, upsampleBilinear, drawIntegers } from '../src/kernels/index.ts';
import { expectClose, randomArray, useGpu } from './gpu.ts';

const w = { both: 0.8, sam: 0.1, dino: 0.1 };
const f32 = (data: Float32Array, shape: number[] = [data.length]) => new HostTensor('f32', shape, data);
/** SynMap of two maps through `kernels.run`, as a plain array. */
const fuse = async (k: Kernels, a: Float32Array, b: Float32Array, weights = w) => (await k.run(synergy, { a: f32(a), b: f32(b) }, weights)).data;

const gpu = useGpu();

describe('uniform packing', () => {
  it('packs scalars in order and pads to 16 bytes', () => {
    const bytes = packUniforms([
      ['u32', 7],
      ['f32', 0.5],
      ['i32', -2],
      ['u32', 1],
      ['u32', 9],
    ]);
    expect(bytes.byteLength).toBe(32);
    const view = new DataView(bytes);
    expect([view.getUint32(0, true), view.getFloat32(4, true), view.getInt32(8, true), view.getUint32(16, true)]).toEqual([7, 0.5, -2, 9]);
  });
  it('refuses a negative u32', () => {
    expect(() => packUniforms([['u32', -1]])).toThrow(/must be a u32/);
  });
});

describe('pipelines and buffers', () => {
  it('a new image size does not compile a new pipeline, and buffers are reused', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const { kernels, runtime, handle } = gpu.current;
    await fuse(kernels, randomArray(100, 1), randomArray(100, 2));
    const compiled = compiledPipelineCount(handle.device);
    const before = runtime.pool.snapshot();
    await fuse(kernels, randomArray(120, 1), randomArray(120, 2));
    await fuse(kernels, randomArray(3000, 1), randomArray(3000, 2));
    expect(compiledPipelineCount(handle.device)).toBe(compiled);
    const after = runtime.pool.snapshot();
    expect(after.reused).toBeGreaterThan(before.reused);
    expect(after.inUse).toBe(0);
  });
});

describe('profiler', () => {
  it('times every dispatch with timestamp queries when the adapter has them', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    if (!gpu.current.handle.device.features.has('timestamp-query')) return ctx.skip('this adapter has no timestamp-query');
    const runtime = new GpuRuntime(gpu.current.handle.device, { profile: true });
    await gpuKernels(runtime).run(moments, { values: f32(randomArray(5000, 3), [1, 5000]), mask: null }, { B: 1, N: 5000 });
    const timings = runtime.profiler!.summary();
    expect(timings.map((t) => t.label)).toEqual(['moments:main']);
    expect(timings[0]!.ms).toBeGreaterThan(0);
    runtime.destroy();
  });
});

describe('kernel calls in flight at once', () => {
  it('give what each gives alone, and leave nothing in use', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const runtime = new GpuRuntime(gpu.current.handle.device);
    const k = gpuKernels(runtime);
    const a = randomArray(3 * 4096, 11);
    const b = randomArray(3 * 4096, 12);
    const rows = { B: 3, N: 4096 };
    const points = f32(
      a.subarray(0, 64).map((v) => Math.floor(32 + 30 * v)),
      [1, 32, 2],
    );
    const calls = [
      () => fuse(k, a, b),
      () => k.run(topk, { values: f32(a, [3, 4096]) }, { ...rows, k: 32 }),
      () => k.run(moments, { values: f32(b, [3, 4096]), mask: null }, rows),
      () => k.run(band, { values: f32(a, [3, 4096]), bounds: f32(Float32Array.of(0, 0.5, -0.5, 0, 0.2, 0.3), [3, 2]) }, rows),
      () =>
        k.run(
          kmeans,
          { points, counts: new HostTensor('u32', [1], Uint32Array.of(32)), draws: new HostTensor('u32', [1, 4], drawIntegers(createRng(1), 4)) },
          { B: 1, n: 32, k: 4, maxIterations: 100 },
        ),
      () => k.run(upsampleBilinear, { maps: f32(a.subarray(0, 4096), [1, 4096]) }, { B: 1, inH: 64, inW: 64, outH: 256, outW: 256 }),
    ];
    const alone = [];
    for (const call of calls) alone.push(await call());
    const together = await Promise.all(calls.map((call) => call()));
    expect(together).toEqual(alone);
    expect(runtime.pool.snapshot().inUse).toBe(0);
    runtime.destroy();
  });
});

describe('device loss', () => {
  it('is reported once and the run continues on the CPU with the right answer', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const handle = await openGpu();
    const runtime = new GpuRuntime(handle.device);
    const notices: string[] = [];
    const kernels = fallbackKernels(gpuKernels(runtime), cpuKernels(), (e) => notices.push(e.message));
    const a = randomArray(2000, 4);
    const b = randomArray(2000, 5);
    expect(kernels.path).toBe('gpu');
    await fuse(kernels, a, b);
    handle.device.destroy(); // the device goes away mid-run
    const got = await fuse(kernels, a, b);
    expectClose(got, await fuse(cpuKernels(), a, b), 1e-6, 1e-6);
    await kernels.run(topk, { values: f32(a, [1, 2000]) }, { B: 1, N: 2000, k: 5 });
    expect(kernels.path).toBe('cpu');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/device lost/);
    runtime.destroy();
    // The Dawn instance must outlive its device's lost callback (collected before it, it can crash the process).
    await handle.device.lost;
    handle.release();
  });
});

describe('openCompute', () => {
  it('--device cpu never touches a GPU', async () => {
    const compute = await openCompute({ device: 'cpu' });
    expect(compute.kernels.path).toBe('cpu');
    expect(compute.runtime).toBeNull();
  });
  it('accepts a device the caller already has, and does not destroy it', async (ctx: TestContext) => {
    if (!gpu.current) return ctx.skip(gpu.skipReason);
    const device = gpu.current.handle.device;
    const compute = await openCompute({ device });
    expect(compute.kernels.path).toBe('gpu');
    compute.release();
    // Still usable: the caller owns it.
    const out = await fuse(gpu.current.kernels, Float32Array.of(1), Float32Array.of(2), { both: 1, sam: 0, dino: 0 });
    expect(out[0]).toBe(2);
  });
});

describe('k-means CPU reference agrees with ml-kmeans', () => {
  for (const [n, k, seed] of [
    [32, 4, 1],
    [200, 6, 2],
    [1000, 4, 3],
  ] as const) {
    it(`${n} points, k = ${k}`, () => {
      const rng = createRng(seed);
      const points = Float32Array.from({ length: 2 * n }, (_, t) => (t % 2 ? 50 : 0) * ((t >> 1) % 3) + 40 * rng());
      const seeds = kmeansPlusPlus(points, k, createRng(seed, 1));
      const ours = kmeansReference(points, seeds);
      const data = Array.from({ length: n }, (_, i) => [points[2 * i]!, points[2 * i + 1]!]);
      const theirs = mlKMeans(data, k, {
        initialization: Array.from({ length: seeds.length / 2 }, (_, c) => [seeds[2 * c]!, seeds[2 * c + 1]!]),
        maxIterations: 100,
        tolerance: 0,
      });
      expect(ours.sizes.length).toBe(k); // no cluster emptied in these cases
      expect(Array.from(ours.assignments)).toEqual(theirs.clusters);
      expectClose(ours.centroids, theirs.centroids.flat(), 1e-3, 1e-5);
    });
  }
});
