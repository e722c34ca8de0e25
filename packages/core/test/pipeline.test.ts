/** SynPo end to end on real CHAOS T2 volumes, the protocol helpers, and NRM's edge cases. */
import { describe, expect, it, type TestContext } from 'vitest';
import { cpuKernels, gpuKernels, GpuRuntime, NoAdapterError, openGpu, ShapeError, type GpuHandle, type Kernels } from '@synpo/gpu';
import { readNifti } from '@synpo/io/node';
import {
  carryRange, CHAOS_T2, dice, labelsToRoi, organRange, overlap, PIXELS, prepareVolume, queryPart, roiToVolume,
  supportSlices, Synpo, weightFreeBackend, type Backend, type PreparedVolume,
} from '../src/index.ts';

const DATA = new URL('../../../../shared/data/chaos-t2/', import.meta.url).pathname;
const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

async function chaosCase(id: number, kernels: Kernels, organValue: number): Promise<{ prepared: PreparedVolume; masks: Uint8Array }> {
  const prepared = await prepareVolume(await readNifti(`${DATA}image_${id}.nii.gz`), kernels);
  const masks = labelsToRoi(await readNifti(`${DATA}label_${id}.nii.gz`), prepared.region, organValue);
  return { prepared, masks };
}

const slice = (a: Float32Array | Uint8Array, z: number) => a.subarray(z * PIXELS, (z + 1) * PIXELS);

describe('protocol', () => {
  it('CHAOS folds follow the paper: fold 0 queries 1,2,3,5 with support 8; fold 4 uses support 1', () => {
    expect(CHAOS_T2.fold(0)).toEqual({ queries: [1, 2, 3, 5], support: 8 });
    expect(CHAOS_T2.fold(4)).toEqual({ queries: [36, 37, 38, 39], support: 1 });
  });
  it('EP1 support slices sit at 1/6, 1/2, 5/6 of the range and queries split in thirds', () => {
    expect(supportSlices([10, 27])).toEqual([13, 19, 25]);
    expect([10, 15, 16, 21, 22, 27].map((z) => queryPart(z, [10, 27]))).toEqual([0, 0, 1, 1, 2, 2]);
  });
  it('Dice sums counts and is 1 for two empty masks', () => {
    expect(dice(overlap(Uint8Array.of(1, 1, 0, 0), Uint8Array.of(1, 0, 1, 0)))).toBeCloseTo(0.5);
    expect(dice(overlap(new Uint8Array(4), new Uint8Array(4)))).toBe(1);
  });
  it('carries an organ range by relative position', () => {
    expect(carryRange([10, 20], 31, 61)).toEqual([20, 40]);
  });
});

describe('preprocessing', () => {
  it('ALPNet-preprocessed MR stays 256×256, maps to [0, 1], and masks round-trip to the volume grid', async () => {
    const { prepared, masks } = await chaosCase(2, cpuKernels(), 1);
    expect(prepared.resampled).toBe(false);
    expect(prepared.intensity).toBe('mr');
    expect(prepared.slices.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(prepared.slices.some((v) => v === 1)).toBe(true);
    const labels = await readNifti(`${DATA}label_2.nii.gz`);
    const back = roiToVolume(masks, prepared);
    expect(back.every((v, i) => v === (labels.data[i] === 1 ? 1 : 0))).toBe(true);
  });

  it('raw CT in HU is windowed, 512² is cropped by 32 px and resized to 256², and masks map back', async () => {
    const nx = 512;
    const data = new Float32Array(nx * nx * 2).fill(-1000);
    const labelData = new Float32Array(nx * nx * 2);
    for (let y = 200; y < 300; y++) for (let x = 100; x < 220; x++) { data[y * nx + x] = 60; labelData[y * nx + x] = 6; }
    const base = { dims: [nx, nx, 2] as [number, number, number], spacing: [0.8, 0.8, 3] as [number, number, number], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]] };
    const prepared = await prepareVolume({ ...base, data, source: 'ct' }, cpuKernels());
    expect(prepared.intensity).toBe('ct');
    expect(prepared.region).toEqual([32, 32, 448, 448]);
    // (60 + 125) / 400 inside the organ, 0 for air.
    const roiIndex = Math.round(((250 - 32) * 256) / 448) * 256 + Math.round(((160 - 32) * 256) / 448);
    expect(prepared.slices[roiIndex]).toBeCloseTo(185 / 400, 2);
    expect(prepared.slices[0]).toBe(0);
    const masks = labelsToRoi({ ...base, data: labelData, source: 'ct-labels' }, prepared.region, 6);
    const back = roiToVolume(masks, prepared);
    const agreement = dice(overlap(back.subarray(0, nx * nx), Uint8Array.from(labelData.subarray(0, nx * nx), (v) => (v ? 1 : 0))));
    expect(agreement).toBeGreaterThan(0.97);
  });
});

describe('SynPo on CHAOS T2 (weight-free backend, CPU references)', () => {
  it('segments the liver and a kidney of a query scan from another patient', async () => {
    const kernels = cpuKernels();
    const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band });
    for (const [organ, minimum] of [[1, 0.45], [2, 0.45]] as const) {
      const support = await chaosCase(8, kernels, organ);
      const query = await chaosCase(1, kernels, organ);
      const sRange = organRange(support.masks, support.prepared.nz)!;
      const qRange = organRange(query.masks, query.prepared.nz)!;
      const z = Math.floor((qRange[0] + qRange[1]) / 2);
      const sz = supportSlices(sRange)[queryPart(z, qRange)]!;
      const enc = await synpo.prepareSupport({ image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array });
      const zs = [z - 1, z, z + 1];
      const batch = new Float32Array(3 * PIXELS);
      zs.forEach((q, i) => batch.set(slice(query.prepared.slices, q), i * PIXELS));
      const results = await synpo.segment(enc, batch, 3);
      const counts = { tp: 0, fp: 0, fn: 0 };
      results.forEach((r, i) => {
        const c = overlap(r.final, slice(query.masks, zs[i]!) as Uint8Array);
        counts.tp += c.tp; counts.fp += c.fp; counts.fn += c.fn;
        expect(r.positives).toHaveLength(4);
        expect(r.negatives.length).toBeGreaterThan(0);
      });
      expect(dice(counts)).toBeGreaterThan(minimum);
    }
  });

  it('is deterministic for a seed', async () => {
    const kernels = cpuKernels();
    const support = await chaosCase(8, kernels, 4);
    const query = await chaosCase(1, kernels, 4);
    const sz = supportSlices(organRange(support.masks, support.prepared.nz)!)[1]!;
    const z = Math.floor(organRange(query.masks, query.prepared.nz)!.reduce((a, b) => a + b) / 2);
    const run = async () => {
      const synpo = new Synpo(weightFreeBackend(), kernels, { seed: 3 });
      const enc = await synpo.prepareSupport({ image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array });
      return (await synpo.segment(enc, slice(query.prepared.slices, z) as Float32Array, 1))[0]!;
    };
    const [a, b] = [await run(), await run()];
    expect(a.negatives).toEqual(b.negatives);
    expect(Buffer.from(a.final).equals(Buffer.from(b.final))).toBe(true);
  });
});

describe('SynPo on the GPU kernels agrees with the CPU references', () => {
  let handle: GpuHandle | null = null;
  it('same points and nearly the same masks on real slices', async (ctx: TestContext) => {
    try {
      handle = await openGpu();
    } catch (error) {
      if (requireGpu || !(error instanceof NoAdapterError)) throw error;
      return ctx.skip(`no WebGPU adapter here (${(error as Error).message}); CI requires one`);
    }
    const runtime = new GpuRuntime(handle.device);
    const cpu = cpuKernels();
    const support = await chaosCase(8, cpu, 2);
    const query = await chaosCase(1, cpu, 2);
    const sz = supportSlices(organRange(support.masks, support.prepared.nz)!)[1]!;
    const z = Math.floor(organRange(query.masks, query.prepared.nz)!.reduce((a, b) => a + b) / 2);
    const results = [];
    for (const kernels of [cpu, gpuKernels(runtime)]) {
      const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band });
      const enc = await synpo.prepareSupport({ image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array });
      results.push((await synpo.segment(enc, slice(query.prepared.slices, z) as Float32Array, 1))[0]!);
    }
    const [c, g] = results as [NonNullable<(typeof results)[0]>, NonNullable<(typeof results)[0]>];
    let maxDiff = 0;
    c.synmap.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - g.synmap[i]!)); });
    expect(maxDiff).toBeLessThan(1e-4);
    expect(g.positives).toEqual(c.positives);
    expect(dice(overlap(g.final, c.final))).toBeGreaterThan(0.97);
    runtime.destroy();
    handle.release();
  });
});

describe('bad input and edge cases', () => {
  it('an empty support mask is a clear error', async () => {
    const synpo = new Synpo(weightFreeBackend(), cpuKernels());
    await expect(synpo.prepareSupport({ image: new Float32Array(PIXELS), mask: new Uint8Array(PIXELS) })).rejects.toThrow(ShapeError);
    await expect(synpo.prepareSupport({ image: new Float32Array(PIXELS), mask: new Uint8Array(PIXELS) })).rejects.toThrow(/support mask is empty/);
  });

  it('a support mask of one pixel still gives a grid cell (area fallback)', async () => {
    const mask = new Uint8Array(PIXELS);
    mask[128 * 256 + 128] = 1;
    const image = Float32Array.from({ length: PIXELS }, (_, i) => ((i % 256) + Math.floor(i / 256)) / 512);
    const enc = await new Synpo(weightFreeBackend(), cpuKernels()).prepareSupport({ image, mask });
    expect(enc.maskGrid.reduce((a, v) => a + v, 0)).toBe(1);
  });

  it('an empty coarse mask gives an empty final mask, not a crash (NRM)', async () => {
    const base = weightFreeBackend();
    const emptyDecoder: Backend = { ...base, decoder: { name: 'empty', decode: async (reqs) => reqs.map(() => new Uint8Array(PIXELS)) } };
    const kernels = cpuKernels();
    const synpo = new Synpo(emptyDecoder, kernels);
    const image = Float32Array.from({ length: PIXELS }, (_, i) => (i % 97) / 97);
    const mask = new Uint8Array(PIXELS);
    for (let y = 100; y < 140; y++) for (let x = 90; x < 150; x++) mask[y * 256 + x] = 1;
    const enc = await synpo.prepareSupport({ image, mask });
    const [r] = await synpo.segment(enc, image, 1);
    expect(r!.coarse.some((v) => v)).toBe(false);
    expect(r!.final.some((v) => v)).toBe(false);
  });

  it('NRM keeps the component with the best confidence', async () => {
    const synpo = new Synpo(weightFreeBackend(), cpuKernels(), { refine: { openingRadius: 1 } });
    const mask = new Uint8Array(PIXELS);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) mask[y * 256 + x] = 1; // low confidence
    for (let y = 100; y < 110; y++) for (let x = 100; x < 110; x++) mask[y * 256 + x] = 1; // high confidence
    const conf = Float32Array.from({ length: PIXELS }, (_, i) => (Math.floor(i / 256) >= 100 ? 0.9 : 0.1));
    const [best] = await synpo.bestComponents([mask], conf);
    expect(best![105 * 256 + 105]).toBe(1);
    expect(best![20 * 256 + 20]).toBe(0);
  });
});
