/** SynPo end to end on real CHAOS T2 volumes, the protocol helpers, and NRM's edge cases. */
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import { cpuKernels, fallbackKernels, gpuKernels, GpuRuntime, GpuStream, NoAdapterError, openGpu, ShapeError, type GpuHandle, type Kernels } from '@synpo/gpu';
import { keepRows, packVoxels, prepareSlices } from '@synpo/gpu/kernels';
import { readNifti } from '@synpo/io/node';
import {
  ATLAS_CELLS,
  ATLAS_GRID,
  anySet,
  carryRange,
  CHAOS_T2,
  combineOrgans,
  dealSlices,
  DEFAULT_OPTIONS,
  dice,
  labelsToRoi,
  labelValues,
  organLoad,
  organRange,
  overlap,
  PIXELS,
  PropagationSteps,
  prepareVolume,
  queryPart,
  querySlicesOf,
  ROI,
  roiToVolume,
  segmentOrgans,
  segmentVolume,
  resolveOptions,
  splitOrgans,
  supportSlices,
  withSupport,
  SABS_CT,
  Synpo,
  transferBounds,
  weightFreeBackend,
  type Backend,
  type PreparedVolume,
  type SliceResult,
} from '../src/index.ts';
import { segmentOrgansOnThreads } from '../src/node/index.ts';
import { DATA, describeWithData, itWithData } from '../../../test/support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;
const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

async function chaosCase(id: number, organValue: number): Promise<{ prepared: PreparedVolume; masks: Uint8Array }> {
  const prepared = prepareVolume(await readNifti(`${CHAOS}image_${id}.nii.gz`));
  const masks = labelsToRoi(await readNifti(`${CHAOS}label_${id}.nii.gz`), prepared, organValue);
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
  it('a support slice the organ skips moves to the nearest slice that has it (the lower of two as near)', () => {
    // The organ in slices 3..18 but 16 (CHAOS case 3's left kidney), then but 10, 11 and 12 too.
    const organ = (skip: number[]) => {
      const masks = new Uint8Array(20 * 4);
      for (let z = 3; z <= 18; z++) if (!skip.includes(z)) masks[z * 4 + 1] = 1;
      return { masks, nz: 20 };
    };
    expect(supportSlices([3, 18])).toEqual([5, 11, 16]);
    expect(supportSlices([3, 18], organ([]))).toEqual([5, 11, 16]);
    expect(supportSlices([3, 18], organ([16]))).toEqual([5, 11, 15]);
    expect(supportSlices([3, 18], organ([10, 11, 12, 16]))).toEqual([5, 9, 15]);
    expect(supportSlices([3, 18], organ([9, 10, 11, 12, 16]))).toEqual([5, 13, 15]);
  });
  it('withSupport makes any case of a fold its support and queries the rest of the fold', () => {
    expect(withSupport(CHAOS_T2, 3).fold(0)).toEqual({ queries: [1, 2, 5, 8], support: 3 });
    expect(withSupport(CHAOS_T2, 8).fold(0)).toEqual(CHAOS_T2.fold(0));
    expect(withSupport(SABS_CT, 0).fold(0)).toEqual({ queries: [1, 2, 3, 4, 5, 6], support: 0 });
    expect(withSupport(CHAOS_T2, 10).fold(4)).toEqual({ queries: [1, 36, 37, 38, 39], support: 10 });
    expect(() => withSupport(CHAOS_T2, 4)).toThrow(/chaos-t2 has no case 4/);
  });
  it('Dice sums counts and is 1 for two empty masks', () => {
    expect(dice(overlap(Uint8Array.of(1, 1, 0, 0), Uint8Array.of(1, 0, 1, 0)))).toBeCloseTo(0.5);
    expect(dice(overlap(new Uint8Array(4), new Uint8Array(4)))).toBe(1);
  });
  it('carries an organ range by relative position', () => {
    expect(carryRange([10, 20], 31, 61)).toEqual([20, 40]);
  });
  it("finds a mask's slices and a label volume's values", () => {
    const masks = new Uint8Array(5 * 4);
    masks[1 * 4 + 3] = 1;
    masks[3 * 4] = 1;
    expect(organRange(masks, 5)).toEqual([1, 3]);
    expect([0, 4, 8, 12, 16].map((from) => anySet(masks, from, from + 4))).toEqual([false, true, false, true, false]);
    expect(anySet(masks, 5, 7)).toBe(false);
    // Word by word where the bytes align, byte by byte where they do not (set: 6 and 11 of the first, 3 and 8 of the second).
    expect([masks.subarray(1), masks.subarray(4)].map((m) => [anySet(m, 0, 4), anySet(m, 4, 8), anySet(m, 8, 12), anySet(m, 12, 16)])).toEqual([
      [false, true, true, false],
      [true, false, true, false],
    ]);
    expect(organRange(new Uint8Array(8), 2)).toBeNull();
    expect(labelValues(Float32Array.of(0, 6, 6, 0, 2, 2, 6, 13, 0, -1, 2))).toEqual([-1, 2, 6, 13]);
    expect(labelValues(new Float32Array(5))).toEqual([]);
  });
  it('threads encode each needed slice once, the lighter part encoding more', () => {
    const needs = [
      [0, 1, 2, 3],
      [2, 3, 4],
    ];
    const even = dealSlices(needs, [0, 0]);
    expect(even.flat().sort()).toEqual([0, 1, 2, 3, 4]);
    expect(Math.abs(even[0]!.length - even[1]!.length)).toBe(1);
    // A part whose organs are 10 slices heavier encodes nothing: 5 encodings weigh less.
    expect(dealSlices(needs, [10, 0])).toEqual([[], [0, 1, 2, 3, 4]]);
    expect(dealSlices([[], []], [1, 2])).toEqual([[], []]);
  });
});

describe('preprocessing', () => {
  itWithData(['chaos-t2'], 'ALPNet-preprocessed MR stays 256×256, maps to [0, 1], and masks round-trip to the volume grid', async () => {
    const { prepared, masks } = await chaosCase(2, 1);
    expect(prepared.resampled).toBe(false);
    expect(prepared.intensity).toBe('mr');
    expect(prepared.slices.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(prepared.slices.some((v) => v === 1)).toBe(true);
    const labels = await readNifti(`${CHAOS}label_2.nii.gz`);
    const back = roiToVolume(masks, prepared);
    expect(back.every((v, i) => v === (labels.data[i] === 1 ? 1 : 0))).toBe(true);
  });

  it('a NaN or infinite voxel is refused by its place in the file, before anything is normalised', () => {
    const geometry = {
      dims: [5, 4, 3] as [number, number, number],
      spacing: [1, 1, 1] as [number, number, number],
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    for (const [value, text] of [
      [Number.NaN, 'NaN'],
      [-Infinity, '-Infinity'],
      [Infinity, 'Infinity'],
    ] as const) {
      const data = new Float32Array(60).fill(7);
      data[5 * 4 * 2 + 5 * 3 + 1] = value; // x 1, y 3, z 2
      expect(() => prepareVolume({ ...geometry, data, source: 'bad.nii' })).toThrow(
        new RegExp(`bad\\.nii: voxel 56 \\(x 1, y 3, z 2\\) is ${text}; SynPo needs finite intensities`),
      );
    }
    expect(prepareVolume({ ...geometry, data: new Float32Array(60).fill(7), source: 'good.nii' }).nz).toBe(3);
  });

  it('raw CT in HU is windowed, 512² is cropped by 32 px and resized to 256², and masks map back', async () => {
    const nx = 512;
    const data = new Float32Array(nx * nx * 2).fill(-1000);
    const labelData = new Float32Array(nx * nx * 2);
    for (let y = 200; y < 300; y++)
      for (let x = 100; x < 220; x++) {
        data[y * nx + x] = 60;
        labelData[y * nx + x] = 6;
      }
    const base = {
      dims: [nx, nx, 2] as [number, number, number],
      spacing: [0.8, 0.8, 3] as [number, number, number],
      affine: [
        [-0.8, 0, 0, 0],
        [0, -0.8, 0, 0],
        [0, 0, 3, 0],
        [0, 0, 0, 1],
      ],
    };
    const prepared = prepareVolume({ ...base, data, source: 'ct' });
    expect(prepared.intensity).toBe('ct');
    expect(prepared.region).toEqual([32, 32, 448, 448]);
    // (60 + 125) / 400 inside the organ, 0 for air.
    const roiIndex = Math.round(((250 - 32) * 256) / 448) * 256 + Math.round(((160 - 32) * 256) / 448);
    expect(prepared.slices[roiIndex]).toBeCloseTo(185 / 400, 2);
    expect(prepared.slices[0]).toBe(0);
    const masks = labelsToRoi({ ...base, data: labelData, source: 'ct-labels' }, prepared, 6);
    const back = roiToVolume(masks, prepared);
    const agreement = dice(
      overlap(
        back.subarray(0, nx * nx),
        Uint8Array.from(labelData.subarray(0, nx * nx), (v) => (v ? 1 : 0)),
      ),
    );
    expect(agreement).toBeGreaterThan(0.97);
  });
});

describeWithData(['chaos-t2'], 'SynPo on CHAOS T2 (weight-free backend, CPU references)', () => {
  it('segments the liver and a kidney of a query scan from another patient', async () => {
    const kernels = cpuKernels();
    const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band });
    for (const [organ, minimum] of [
      [1, 0.45],
      [2, 0.45],
    ] as const) {
      const support = await chaosCase(8, organ);
      const query = await chaosCase(1, organ);
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
        counts.tp += c.tp;
        counts.fp += c.fp;
        counts.fn += c.fn;
        expect(r.positives).toHaveLength(4);
        expect(r.negatives.length).toBeGreaterThan(0);
      });
      expect(dice(counts)).toBeGreaterThan(minimum);
    }
  });

  it('is deterministic for a seed', async () => {
    const kernels = cpuKernels();
    const support = await chaosCase(8, 4);
    const query = await chaosCase(1, 4);
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

describeWithData(['chaos-t2'], 'SynPo on the GPU kernels agrees with the CPU references', () => {
  let handle: GpuHandle | null = null;
  const open = async (ctx: TestContext): Promise<GpuHandle | null> => {
    try {
      return (handle ??= await openGpu());
    } catch (error) {
      if (requireGpu || !(error instanceof NoAdapterError)) throw error;
      ctx.skip(`no WebGPU adapter here (${(error as Error).message}); CI requires one`);
      return null;
    }
  };
  afterAll(() => handle?.release());

  /** Support slice, query slices (a batch across the organ) and their truth, for CHAOS scan 1 with support 8. */
  async function chaosBatch(organ: number, count: number) {
    const support = await chaosCase(8, organ);
    const query = await chaosCase(1, organ);
    const sz = supportSlices(organRange(support.masks, support.prepared.nz)!)[1]!;
    const [q0, q1] = organRange(query.masks, query.prepared.nz)!;
    const zs = Array.from({ length: count }, (_, i) => Math.round(q0 + ((q1 - q0) * (i + 0.5)) / count));
    const batch = new Float32Array(zs.length * PIXELS);
    zs.forEach((z, i) => batch.set(slice(query.prepared.slices, z), i * PIXELS));
    return { support: { image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array }, zs, batch };
  }

  it('the device-resident chain gives the same points and nearly the same masks on a batch of real slices', async (ctx: TestContext) => {
    const h = await open(ctx);
    if (!h) return;
    const runtime = new GpuRuntime(h.device);
    const { support, zs, batch } = await chaosBatch(2, 6);
    const results = [];
    const inUse: number[] = [];
    for (const kernels of [cpuKernels(), gpuKernels(runtime), gpuKernels(runtime)]) {
      const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, batchSize: 4 });
      const enc = await synpo.prepareSupport(support);
      results.push(
        await synpo.segment(
          enc,
          batch,
          zs.length,
          zs.map((z) => ({ seed: z })),
          { detail: true },
        ),
      );
      await synpo.releaseSupport(enc);
      inUse.push(runtime.pool.snapshot().inUse);
    }
    const [c, g] = results as [SliceResult[], SliceResult[]];
    for (let i = 0; i < zs.length; i++) {
      let maxDiff = 0;
      c[i]!.synmap!.forEach((v, k) => {
        maxDiff = Math.max(maxDiff, Math.abs(v - g[i]!.synmap![k]!));
      });
      expect(maxDiff).toBeLessThan(1e-4);
      expect(g[i]!.positives).toEqual(c[i]!.positives);
      expect(g[i]!.negatives).toEqual(c[i]!.negatives);
      expect(dice(overlap(g[i]!.final, c[i]!.final))).toBeGreaterThan(0.97);
      expect(dice(overlap(g[i]!.coarse!, c[i]!.coarse!))).toBeGreaterThan(0.97);
      expect(c[i]!.final.some((v) => v)).toBe(true);
    }
    // Nothing stays on the device after a run but the constant position channels.
    expect(inUse.slice(1)).toEqual([1, 1]);
    runtime.destroy();
  });

  it("the atlas ranks PSM's cells: each row's positives lie in its own atlas, the same points on both paths", async (ctx: TestContext) => {
    const h = await open(ctx);
    if (!h) return;
    const runtime = new GpuRuntime(h.device);
    const { support, zs, batch } = await chaosBatch(2, 4);
    // Each row's atlas a disc of cells somewhere else; a weight no confidence outranks. (Walks
    // prompted so far from the organ also miss the speculative chain's checks: it runs again,
    // checked, over the volume's resident slices, whose encodings must not be the released ones.)
    const centres = [
      [12, 12],
      [50, 14],
      [14, 50],
      [48, 48],
    ] as const;
    // (atlas cells are 4 grid cells a side)
    const atlas = centres.map(([cx, cy]) =>
      Float32Array.from({ length: ATLAS_CELLS }, (_, c) =>
        (4 * (c % ATLAS_GRID) + 1.5 - cx) ** 2 + (4 * Math.floor(c / ATLAS_GRID) + 1.5 - cy) ** 2 <= 36 ? 1 : 0,
      ),
    );
    const points = [];
    for (const kernels of [cpuKernels(), gpuKernels(runtime)]) {
      const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, atlas: { weight: 10, sigma: 1 } });
      const enc = await synpo.prepareSupport(support);
      const [rows] = await synpo.segmentJobs(
        batch,
        zs.length,
        [{ support: enc, slices: [0, 1, 2, 3], atlas }],
        zs.map((z) => ({ seed: z })),
      );
      await synpo.releaseSupport(enc);
      points.push(rows!.map((r) => r.positives));
    }
    expect(points[1]).toEqual(points[0]);
    points[0]!.forEach((positives, i) => {
      expect(positives.length).toBeGreaterThan(0);
      // ROI pixels: 4 a cell; the disc's radius is 6 cells, blurred by one more.
      for (const p of positives) expect(Math.hypot(p.x / 4 - centres[i]![0], p.y / 4 - centres[i]![1])).toBeLessThan(9);
    });
    runtime.destroy();
  });

  it('keeps the hot path on the GPU: a slice goes up once, its points and mask come down, a few submissions a batch', async (ctx: TestContext) => {
    const h = await open(ctx);
    if (!h) return;
    const runtime = new GpuRuntime(h.device);
    const { support, zs, batch } = await chaosBatch(1, 8);
    const synpo = new Synpo(weightFreeBackend(), gpuKernels(runtime), { points: CHAOS_T2.band, batchSize: 8 });
    const enc = await synpo.prepareSupport(support);
    await synpo.segment(enc, batch, zs.length); // uploads the resident constants
    const before = runtime.snapshotTransfers();
    await synpo.segment(enc, batch, zs.length);
    const after = runtime.snapshotTransfers();
    const per = (k: keyof typeof after) => (after[k] - before[k]) / zs.length;
    // The targets, which are counts, not timings: uploads ≤ 1.1 × the slice's own
    // float32 bytes, readback ≤ 80 KB a slice, ≤ 12 submissions a batch.
    expect(per('uploadBytes')).toBeLessThanOrEqual(1.1 * PIXELS * 4);
    expect(per('uploadBytes')).toBeGreaterThanOrEqual(PIXELS * 4);
    expect(per('readbackBytes')).toBeLessThanOrEqual(80_000);
    expect(after.submits - before.submits).toBeLessThanOrEqual(12);
    runtime.destroy();
  });

  it('two segment calls in flight at once give what each gives alone', async (ctx: TestContext) => {
    const h = await open(ctx);
    if (!h) return;
    const runtime = new GpuRuntime(h.device);
    const liver = await chaosBatch(1, 3);
    const kidney = await chaosBatch(2, 5);
    const synpo = new Synpo(weightFreeBackend(), gpuKernels(runtime), { points: CHAOS_T2.band, batchSize: 2 });
    const run = async (c: typeof liver) => {
      const enc = await synpo.prepareSupport(c.support);
      return (
        await synpo.segment(
          enc,
          c.batch,
          c.zs.length,
          c.zs.map((z) => ({ seed: z })),
        )
      ).map((r) => [r.positives, r.negatives, Buffer.from(r.final).toString('base64')]);
    };
    const alone = [await run(liver), await run(kidney)];
    const together = await Promise.all([run(liver), run(kidney)]);
    expect(together).toEqual(alone);
    runtime.destroy();
  });

  it("a device lost mid-run finishes on the CPU with the CPU's answer", async (ctx: TestContext) => {
    if (!(await open(ctx))) return;
    const own = await openGpu();
    const notices: string[] = [];
    const runtime = new GpuRuntime(own.device);
    const kernels = fallbackKernels(gpuKernels(runtime), cpuKernels(), (e) => notices.push(e.message));
    const { support, zs, batch } = await chaosBatch(1, 4);
    const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, batchSize: 2 });
    const enc = await synpo.prepareSupport(support);
    const first = synpo.segment(
      enc,
      batch,
      zs.length,
      zs.map((z) => ({ seed: z })),
    );
    setTimeout(() => own.device.destroy(), 5); // while the batches run
    const got = await first;
    const want = await new Synpo(weightFreeBackend(), cpuKernels(), { points: CHAOS_T2.band }).segment(
      enc,
      batch,
      zs.length,
      zs.map((z) => ({ seed: z })),
    );
    expect(kernels.path).toBe('cpu');
    expect(notices).toHaveLength(1);
    got.forEach((r, i) => expect(dice(overlap(r.final, want[i]!.final))).toBeGreaterThan(0.97));
    runtime.destroy();
    // The Dawn instance must outlive its device's lost callback (collected before it, it can crash the process).
    await own.device.lost;
    own.release();
  });

  itWithData(
    ['sabs-ct'],
    "volumes prepared on the device from the files' own integers give the host's slices: CHAOS's int16 as they are, SABS's uint8 resized",
    async (ctx: TestContext) => {
      const h = await open(ctx);
      if (!h) return;
      const runtime = new GpuRuntime(h.device);
      for (const { file, format, atol } of [
        { file: `${CHAOS}image_1.nii.gz`, format: 'i16', atol: 0 },
        { file: `${DATA}sabs-ct/image_1.nii.gz`, format: 'u8', atol: 1e-6 }, // the bilinear resize, within an ulp or so
      ]) {
        const prepared = prepareVolume(await readNifti(file));
        const packed = packVoxels(prepared.voxels.data);
        expect(packed.format).toBe(format);
        expect(packed.words.byteLength).toBeLessThanOrEqual((prepared.slices.byteLength * 2) / (format === 'u8' ? 4 : 2));
        const s = new GpuStream(runtime, 'prepare');
        const voxels = s.upload(packed.words, [packed.words.length]);
        const slices = await s.read(s.run(prepareSlices, { voxels }, { ...prepared.voxels.shape, format: packed.format, outH: ROI, outW: ROI }));
        s.end();
        expect(slices.length).toBe(prepared.slices.length);
        let worst = 0;
        for (let i = 0; i < slices.length; i++) worst = Math.max(worst, Math.abs(slices[i]! - prepared.slices[i]!));
        expect(worst, file).toBeLessThanOrEqual(atol);
      }
      runtime.destroy();
    },
  );
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
    const emptyDecoder: Backend = {
      ...base,
      decoder: { name: 'empty', decode: async (batch, s) => s.upload(new Uint8Array(batch.B * PIXELS), [batch.B, PIXELS]) },
    };
    const kernels = cpuKernels();
    const synpo = new Synpo(emptyDecoder, kernels);
    const image = Float32Array.from({ length: PIXELS }, (_, i) => (i % 97) / 97);
    const mask = new Uint8Array(PIXELS);
    for (let y = 100; y < 140; y++) for (let x = 90; x < 150; x++) mask[y * 256 + x] = 1;
    const enc = await synpo.prepareSupport({ image, mask });
    const [r] = await synpo.segment(enc, image, 1, [], { detail: true });
    expect(r!.coarse!.some((v) => v)).toBe(false);
    expect(r!.final.some((v) => v)).toBe(false);
  });

  it('NRM keeps the component with the best confidence', async () => {
    const synpo = new Synpo(weightFreeBackend(), cpuKernels(), { refine: { openingRadius: 1 } });
    const mask = new Uint8Array(PIXELS);
    for (let y = 10; y < 30; y++) for (let x = 10; x < 30; x++) mask[y * 256 + x] = 1; // low confidence
    for (let y = 100; y < 110; y++) for (let x = 100; x < 110; x++) mask[y * 256 + x] = 1; // high confidence
    const conf = Float32Array.from({ length: PIXELS }, (_, i) => (Math.floor(i / 256) >= 100 ? 0.9 : 0.1));
    const [best] = await synpo.refineMasks([mask], conf);
    expect(best![105 * 256 + 105]).toBe(1);
    expect(best![20 * 256 + 20]).toBe(0);
  });
});

describeWithData(['chaos-t2'], 'all organs in one pass', () => {
  it('gives each organ the masks its own run gives, encodes each slice once, and labels overlaps by confidence', async () => {
    const kernels = cpuKernels();
    const supportVolume = await readNifti(`${CHAOS}image_8.nii.gz`);
    const supportLabels = await readNifti(`${CHAOS}label_8.nii.gz`);
    const queryVolume = await readNifti(`${CHAOS}image_1.nii.gz`);
    const support = prepareVolume(supportVolume);
    const query = prepareVolume(queryVolume);
    const organs = Object.entries(CHAOS_T2.labels).map(([name, value]) => ({ name, value, masks: labelsToRoi(supportLabels, support, value) }));
    const synpo = new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band });
    const all = await segmentOrgans({ synpo, support, query, organs });
    expect(all.organs.map((o) => o.name)).toEqual(['liver', 'right-kidney', 'left-kidney', 'spleen']);
    // Each query slice of the union of the ranges was encoded once, for all organs.
    expect(all.encodedSlices).toBe(all.range[1] - all.range[0] + 1);
    expect(all.organSlices).toBe(all.organs.reduce((n, o) => n + o.range[1] - o.range[0] + 1, 0));
    expect(all.organSlices).toBeGreaterThan(all.encodedSlices);
    // Each organ in a call of its own (as workers run them): the masks the one pass gave it.
    const apart = [];
    for (const organ of organs) {
      const alone = (
        await segmentOrgans({
          synpo: new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band }),
          support,
          query,
          organs: [organ],
          keepConfidence: true,
        })
      ).organs[0]!;
      expect(alone.confidence!.size).toBe(alone.range[1] - alone.range[0] + 1);
      apart.push(alone);
      const mine = all.organs.find((o) => o.name === organ.name)!;
      expect(mine.range).toEqual(alone.range);
      expect(Buffer.from(mine.masks).equals(Buffer.from(alone.masks))).toBe(true);
      // Where no other organ claims a pixel, the label map carries this organ's value exactly there.
      const others = all.organs.filter((o) => o !== mine);
      for (let t = 0; t < mine.masks.length; t++) {
        if (others.some((o) => o.masks[t])) continue;
        expect(all.labels[t]).toBe(mine.masks[t] ? organ.value : 0);
      }
    }
    // Overlapping pixels went to one of the organs that claimed them.
    let claimed = 0;
    for (let t = 0; t < all.labels.length; t++) {
      const claims = all.organs.filter((o) => o.masks[t]);
      if (claims.length > 1) {
        claimed++;
        expect(claims.map((o) => o.value)).toContain(all.labels[t]);
      }
    }
    expect(claimed).toBe(all.overlapPixels);
    // The organs segmented apart, combined afterwards: the same label map.
    const combined = combineOrgans(apart, query.nz);
    expect(combined.overlapPixels).toBe(all.overlapPixels);
    expect(Buffer.from(combined.labels.buffer).equals(Buffer.from(all.labels.buffer))).toBe(true);
  }, 480_000);
});

/**
 * The propagation pass walked slice by slice on the host, for one organ of a CHAOS pair (the atlas
 * prior off). `off` must be the same backend's per-slice run: every slice exactly what
 * Synpo.segment gives it alone (checked). Outward from the anchor (the largest own mask among
 * every stride-th slice of the range, centred on it; among all slices where those found nothing),
 * a slice whose neighbour found nothing gets its own mask, as does one whose own mask agrees with
 * its neighbour's final mask (Dice above `agreement`); every other slice is Synpo.segment with its
 * neighbour's final mask as the guide. The wavefront runs them in steps of several rows,
 * measuring the agreement on the stream; `walk` compares every slice of a run with the walk and
 * returns how many slices the pass segments: with a guide, and on its own (a slice after one that
 * found nothing, where the per-slice pass did not segment it: no candidate, and candidates found
 * something, else every slice was segmented on its own before the chains).
 */
async function propagationWalker(
  backend: Backend,
  support: { prepared: PreparedVolume; masks: Uint8Array },
  query: { prepared: PreparedVolume },
  off: Awaited<ReturnType<typeof segmentVolume>>,
) {
  const alone = new Synpo(backend, cpuKernels(), { points: CHAOS_T2.band, propagation: { enabled: false } });
  const encodings = new Map<number, Awaited<ReturnType<Synpo['prepareSupport']>>>();
  const encodingFor = async (z: number) => {
    const sz = off.supportSlices[queryPart(z, off.range)]!;
    if (!encodings.has(sz))
      encodings.set(
        sz,
        await alone.prepareSupport({ image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array }),
      );
    return encodings.get(sz)!;
  };
  const areas: number[] = [];
  for (let z = off.range[0]; z <= off.range[1]; z++) {
    const [r] = await alone.segment(await encodingFor(z), slice(query.prepared.slices, z) as Float32Array, 1, [{ seed: z }]);
    expect(Buffer.from(r!.final).equals(Buffer.from(slice(off.masks, z)))).toBe(true);
    areas.push(r!.final.reduce((a, v) => a + v, 0));
  }
  const offset = (stride: number) => Math.floor(((areas.length - 1) % stride) / 2);
  const largest = (step: number, from: number) => {
    let [best, at] = [-1, -1];
    for (let n = from; n < areas.length; n += step) if (areas[n]! > best) [best, at] = [areas[n]!, n];
    return { best, at };
  };
  const anchorOf = (stride: number) => {
    const sampled = largest(stride, offset(stride));
    return off.range[0] + (sampled.best > 0 ? sampled : largest(1, 0)).at;
  };
  const walk = async (on: Awaited<ReturnType<typeof segmentVolume>>, agreement: number, stride: number) => {
    const anchor = anchorOf(stride);
    const filled = largest(stride, offset(stride)).best <= 0;
    const candidate = (z: number) => (z - off.range[0] - offset(stride)) % stride === 0;
    expect(on.range).toEqual(off.range);
    expect(Buffer.from(slice(on.masks, anchor)).equals(Buffer.from(slice(off.masks, anchor)))).toBe(true);
    let guided = 0;
    let unguided = 0;
    for (const step of [1, -1]) {
      for (let z = anchor + step; z >= on.range[0] && z <= on.range[1]; z += step) {
        const previous = slice(on.masks, z - step) as Uint8Array;
        const own = slice(off.masks, z) as Uint8Array;
        const found = previous.some((v) => v);
        const keep = !found || dice(overlap(own, previous)) > agreement;
        if (!keep) guided++;
        else if (!found && !filled && !candidate(z)) unguided++;
        const want = keep
          ? own
          : (await alone.segment(await encodingFor(z), slice(query.prepared.slices, z) as Float32Array, 1, [{ seed: z }], { guides: [previous] }))[0]!.final;
        expect(Buffer.from(slice(on.masks, z)).equals(Buffer.from(want)), `slice ${z}, agreement ${agreement}`).toBe(true);
      }
    }
    return { guided, unguided };
  };
  return { anchorOf, walk, areas, release: async () => Promise.all([...encodings.values()].map((e) => alone.releaseSupport(e))) };
}

/**
 * The weight-free backend with the masks of some query slices (known by their pixels) emptied:
 * neighbours that find nothing, which real volumes seldom give on cue.
 */
function silencing(query: Float32Array, silenced: readonly number[]): Backend {
  const base = weightFreeBackend();
  const key = (row: Float32Array) => {
    let h = 0;
    for (let i = 0; i < row.length; i += 5) h = (h * 31 + Math.round(row[i]! * 4096)) % 2 ** 31;
    return h;
  };
  const quiet = new Set(silenced.map((z) => key(query.subarray(z * PIXELS, (z + 1) * PIXELS))));
  return {
    ...base,
    decoder: {
      name: 'silencing',
      decode: async (batch, s) => {
        const masks = await base.decoder.decode(batch, s);
        // keepRows empties the rows flagged 0xffffffff (bestComponent's "no component").
        const found = Uint32Array.from({ length: batch.B }, (_, b) =>
          quiet.has(key(batch.images.host.subarray(b * PIXELS, (b + 1) * PIXELS))) ? 0xffffffff : 0,
        );
        return s.run(keepRows, { masks, found: s.upload(found, [batch.B]) }, { B: batch.B, P: PIXELS });
      },
    },
  };
}

describeWithData(['chaos-t2'], 'the propagation pass (on by default, a switch turns it off)', () => {
  it('off: each slice is its own per-slice segmentation; on: slices are segmented outward from the largest mask of every anchorStride-th slice, each guided by its neighbour, unless they agree with it', async () => {
    const kernels = cpuKernels();
    const support = await chaosCase(8, 2);
    const query = await chaosCase(1, 2);
    const synpo = (enabled: boolean, agreement = 1, anchorStride = DEFAULT_OPTIONS.propagation.anchorStride) =>
      new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, propagation: { enabled, agreement, anchorStride } });
    // The atlas prior off: each slice here is compared with Synpo.segment on it alone.
    const off = await segmentVolume({ atlas: false, synpo: synpo(false), support: support.prepared, supportMasks: support.masks, query: query.prepared });
    expect(off.propagatedSlices).toBe(0);
    // Off is the paper's protocol: every slice exactly what Synpo.segment gives it alone.
    const { walk, release } = await propagationWalker(weightFreeBackend(), support, query, off);
    // Agreement 1: every slice but the anchor is segmented by the pass (no neighbour here found
    // nothing); before it, only the anchor's candidates were segmented on their own.
    const slices = off.range[1] - off.range[0] + 1;
    const stride = DEFAULT_OPTIONS.propagation.anchorStride;
    expect(stride).toBeGreaterThan(1);
    const sampled = synpo(true);
    const every = await segmentVolume({ atlas: false, synpo: sampled, support: support.prepared, supportMasks: support.masks, query: query.prepared });
    expect(every.propagatedSlices).toBe(slices - 1);
    expect(sampled.perSlice.slices).toBe(Math.ceil((slices - Math.floor(((slices - 1) % stride) / 2)) / stride));
    expect(await walk(every, 1, stride)).toEqual({ guided: every.propagatedSlices, unguided: 0 });
    // Asking for every slice's intermediates runs the per-slice pass on every slice; the masks stay.
    const detailed = synpo(true);
    const withDetail = await segmentVolume({
      atlas: false,
      synpo: detailed,
      support: support.prepared,
      supportMasks: support.masks,
      query: query.prepared,
      detail: true,
    });
    expect(detailed.perSlice.slices).toBe(slices);
    expect(Buffer.from(withDetail.masks).equals(Buffer.from(every.masks))).toBe(true);
    // An anchor stride of 1: every slice segmented on its own first, then again by the pass.
    const firstAll = synpo(true, 1, 1);
    const strided1 = await segmentVolume({ atlas: false, synpo: firstAll, support: support.prepared, supportMasks: support.masks, query: query.prepared });
    expect(firstAll.perSlice.slices).toBe(slices);
    expect(await walk(strided1, 1, 1)).toEqual({ guided: slices - 1, unguided: 0 });
    // By default every slice is segmented by the pass; below 1 (every slice then segmented on its
    // own first), the slices that agree with their neighbour keep their own masks.
    expect(resolveOptions().propagation.agreement).toBe(1);
    const agreement = 0.9;
    const agreeing = synpo(true, agreement);
    const some = await segmentVolume({
      atlas: false,
      synpo: agreeing,
      support: support.prepared,
      supportMasks: support.masks,
      query: query.prepared,
    });
    expect(agreeing.perSlice.slices).toBe(slices);
    expect((await walk(some, agreement, 1)).guided).toBe(some.propagatedSlices);
    expect(some.propagatedSlices).toBeLessThan(every.propagatedSlices);
    expect(some.propagatedSlices).toBeGreaterThan(0);
    // The pass takes its encodings from the cache: no slice is encoded twice.
    expect(every.encodedSlices).toBe(off.encodedSlices);
    expect(some.encodedSlices).toBe(off.encodedSlices);
    // The guide changes masks (whether for the better is measured by eval, not asserted here).
    expect(Buffer.from(every.masks).equals(Buffer.from(off.masks))).toBe(false);
    expect(Buffer.from(some.masks).equals(Buffer.from(off.masks))).toBe(false);
    await release();
  }, 360_000);

  it('a slice whose neighbour found nothing is segmented on its own, and where every candidate found nothing the anchor is looked for among all', async () => {
    const support = await chaosCase(8, 2);
    const query = await chaosCase(1, 2);
    const stride = DEFAULT_OPTIONS.propagation.anchorStride;
    const run = (backend: Backend, enabled: boolean) => {
      const synpo = new Synpo(backend, cpuKernels(), { points: CHAOS_T2.band, propagation: { enabled } });
      return segmentVolume({ atlas: false, synpo, support: support.prepared, supportMasks: support.masks, query: query.prepared }).then((r) => ({ r, synpo }));
    };
    const range = (await run(weightFreeBackend(), false)).r.range;
    const slices = range[1] - range[0] + 1;
    expect(slices).toBeGreaterThan(stride);
    const candidates: number[] = [];
    for (let n = Math.floor(((slices - 1) % stride) / 2); n < slices; n += stride) candidates.push(range[0] + n);
    // (1) One slice that is no candidate finds nothing: the pass meets it, and the slice after it
    // (no own mask yet) is segmented on its own within the step.
    // (2) Every candidate finds nothing: the other slices are segmented on their own first, in one
    // step, and the anchor is the largest of theirs.
    // Three slices past the first candidate: neither it nor its neighbours are candidates.
    const quiet = candidates[0]! + 3;
    for (const silenced of [[quiet], candidates]) {
      const backend = silencing(query.prepared.slices, silenced);
      const { r: off } = await run(backend, false);
      silenced.forEach((z) => expect(slice(off.masks, z).some((v) => v)).toBe(false));
      const { r: on, synpo } = await run(backend, true);
      expect(synpo.perSlice.slices).toBe(candidates.length);
      const { walk, anchorOf, release } = await propagationWalker(backend, support, query, off);
      const { guided, unguided } = await walk(on, 1, stride);
      // The slices the pass segmented: with a guide, on their own after a neighbour that found
      // nothing, and with every candidate silent, first all the others on their own.
      if (silenced.length > 1) {
        expect(candidates).not.toContain(anchorOf(stride));
        expect(unguided).toBe(0);
        expect(on.propagatedSlices).toBe(slices - candidates.length + guided);
      } else {
        expect(unguided).toBeGreaterThan(0);
        expect(on.propagatedSlices).toBe(guided + unguided);
      }
      await release();
    }
  }, 360_000);

  it('refuses guides that do not match the batch', async () => {
    const kernels = cpuKernels();
    const synpo = new Synpo(weightFreeBackend(), kernels);
    const support = await chaosCase(8, 1);
    const sz = supportSlices(organRange(support.masks, support.prepared.nz)!)[1]!;
    const enc = await synpo.prepareSupport({ image: slice(support.prepared.slices, sz) as Float32Array, mask: slice(support.masks, sz) as Uint8Array });
    await expect(synpo.segment(enc, slice(support.prepared.slices, sz) as Float32Array, 1, undefined, { guides: [] })).rejects.toThrow(ShapeError);
    await expect(synpo.segment(enc, slice(support.prepared.slices, sz) as Float32Array, 1, undefined, { guides: [new Uint8Array(10)] })).rejects.toThrow(
      /one 256×256 mask per query slice/,
    );
  });
});

describeWithData(['chaos-t2'], 'whole volumes', () => {
  /** CHAOS support 8 and query 1, prepared, with the support's masks of the named organs. */
  async function volumePair(names: readonly (keyof typeof CHAOS_T2.labels)[]) {
    const supportLabels = await readNifti(`${CHAOS}label_8.nii.gz`);
    const support = prepareVolume(await readNifti(`${CHAOS}image_8.nii.gz`));
    const query = prepareVolume(await readNifti(`${CHAOS}image_1.nii.gz`));
    const organs = names.map((name) => ({ name, value: CHAOS_T2.labels[name], masks: labelsToRoi(supportLabels, support, CHAOS_T2.labels[name]) }));
    return { support, query, organs };
  }

  it('the CPU path on worker threads gives the one-thread labels and masks, byte for byte', async () => {
    const kernels = cpuKernels();
    const { support, query, organs } = await volumePair(['liver', 'right-kidney', 'left-kidney', 'spleen']);
    // The organs are dealt by their work, every organ to one part: a liver slice weighs more than a kidney's.
    const req = { support, query, organs };
    const loads = organs.map((o) => organLoad(req, o));
    const slices = organs.map((o) => querySlicesOf(req, [organs.indexOf(o)]).length);
    expect(loads[0]! / slices[0]!).toBeGreaterThan((1.3 * loads[1]!) / slices[1]!);
    const parts = splitOrgans(req, 2);
    expect(parts).toHaveLength(2);
    expect(parts.flat().sort()).toEqual([0, 1, 2, 3]);
    const partLoad = (p: number[]) => p.reduce((n, o) => n + loads[o]!, 0);
    expect(Math.abs(partLoad(parts[0]!) - partLoad(parts[1]!))).toBeLessThan(Math.max(...loads));
    const options = { points: CHAOS_T2.band };
    const one = await segmentOrgans({ synpo: new Synpo(weightFreeBackend(), kernels, options), support, query, organs });
    const progress: number[] = [];
    const threaded = await segmentOrgansOnThreads({ support, query, organs, options, threads: 2, progress: (done) => progress.push(done) });
    expect(Buffer.from(threaded.labels.buffer).equals(Buffer.from(one.labels.buffer))).toBe(true);
    expect(threaded.organs.map((o) => o.name)).toEqual(one.organs.map((o) => o.name));
    threaded.organs.forEach((o, i) => {
      expect(o.range).toEqual(one.organs[i]!.range);
      expect(Buffer.from(o.masks).equals(Buffer.from(one.organs[i]!.masks))).toBe(true);
    });
    expect(threaded.overlapPixels).toBe(one.overlapPixels);
    expect(threaded.organSlices).toBe(one.organSlices);
    expect(threaded.propagatedSlices).toBe(one.propagatedSlices);
    expect(threaded.blankSlices).toEqual(one.blankSlices);
    // Each slice encoded once between the threads, as by one.
    expect(threaded.encodedSlices).toBe(one.encodedSlices);
    expect(Math.max(...progress)).toBe(one.organSlices);
    // Again, on the thread the first call left idle: the same bytes.
    const again = await segmentOrgansOnThreads({ support, query, organs, options, threads: 2 });
    expect(Buffer.from(again.labels.buffer).equals(Buffer.from(one.labels.buffer))).toBe(true);
  }, 480_000);

  it('the atlas: weight 0 without the position cue gives the masks of no atlas, either alone moves them; each organ reports its transform; a bad atlas is refused', async () => {
    const kernels = cpuKernels();
    const { support, query, organs } = await volumePair(['right-kidney']);
    const run = (atlas: boolean, weight: number, position: boolean) =>
      segmentOrgans({ synpo: new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, atlas: { weight, position } }), support, query, organs, atlas });
    const none = await run(false, 0.3, true);
    const zero = await run(true, 0, false);
    const heavy = await run(true, 3, false);
    const placed = await run(true, 0, true);
    const same = (a: typeof none, b: typeof none) => Buffer.from(a.labels.buffer).equals(Buffer.from(b.labels.buffer));
    expect(none.organs[0]!.atlas).toBeUndefined();
    expect(same(zero, none)).toBe(true);
    expect(same(heavy, none)).toBe(false);
    expect(same(placed, none)).toBe(false);
    const t = zero.organs[0]!.atlas!;
    expect(t.anchor).toBe('body'); // MR: no saturated bone
    expect(t.ms).toBeGreaterThan(0);
    for (const v of [...t.from, ...t.to, ...t.scale]) expect(Number.isFinite(v)).toBe(true);
    // a kidney is barely enlarged (organGrowth: the fourth power of its radius against a quarter of the ROI)
    expect(t.grow).toBeGreaterThan(0);
    expect(t.grow).toBeLessThan(0.1);
    for (const atlas of [{ growth: -1 }, { plateau: 0 }, { sigma: 0 }])
      expect(() => resolveOptions({ atlas })).toThrow(/atlas needs weight ≥ 0, sigma > 0, plateau in \(0, 1\], growth ≥ 0 and position true or false/);
    const synpo = new Synpo(weightFreeBackend(), kernels);
    const enc = await synpo.prepareSupport({ image: slice(support.slices, 15) as Float32Array, mask: slice(organs[0]!.masks, 15) as Uint8Array });
    await expect(
      synpo.segmentJobs(query.slices.subarray(0, 2 * PIXELS), 2, [{ support: enc, slices: [0, 1], atlas: [new Float32Array(ATLAS_CELLS)] }]),
    ).rejects.toThrow(/job 0: atlas needs one 16×16 map per slice \(2\), got 1/);
  }, 240_000);

  it('a bad organ is refused before any thread starts, with the one-thread error; a failure in a thread comes back', async () => {
    const { support, query, organs } = await volumePair(['liver', 'spleen']);
    const missing = [...organs, { name: 'nothing', value: 9, masks: new Uint8Array(support.nz * PIXELS) }];
    await expect(segmentOrgansOnThreads({ support, query, organs: missing, threads: 2 })).rejects.toThrow(ShapeError);
    await expect(segmentOrgansOnThreads({ support, query, organs: missing, threads: 2 })).rejects.toThrow(
      /the organ nothing is not in the support label volume/,
    );
    // A failure once the threads run (here every thread's encoder refuses its options) comes back, and nothing waits on.
    await expect(segmentOrgansOnThreads({ support, query, organs, threads: 2, weightFree: { sigmas: [] } })).rejects.toThrow(/at least one scale/);
  });

  /**
   * Two volumes propagated at once, each by its own Synpo, alone and then sharing PropagationSteps
   * (what `synpo batch --jobs 2` does): each gets the labels it gets alone, in fewer chains than steps.
   * With an agreement below 1 the joined steps also carry each row's overlap with its next slice.
   */
  async function sharedSteps(kernels: Kernels, agreement = 1) {
    const { support, organs } = await volumePair(['left-kidney', 'spleen']);
    const queries = [await readNifti(`${CHAOS}image_1.nii.gz`), await readNifti(`${CHAOS}image_2.nii.gz`)].map((v) => prepareVolume(v));
    // One backend for all (as a batch shares its models): Synpos share steps only on the same backend, kernels and options.
    const backend = weightFreeBackend();
    const synpo = () => new Synpo(backend, kernels, { points: CHAOS_T2.band, propagation: { agreement } });
    const alone: Awaited<ReturnType<typeof segmentOrgans>>[] = [];
    for (const query of queries) alone.push(await segmentOrgans({ synpo: synpo(), support, query, organs }));
    const steps = new PropagationSteps();
    const together = await Promise.all(
      queries.map((query) => {
        const s = synpo();
        s.steps = steps;
        return segmentOrgans({ synpo: s, support, query, organs });
      }),
    );
    together.forEach((r, i) => {
      expect(Buffer.from(r.labels.buffer).equals(Buffer.from(alone[i]!.labels.buffer))).toBe(true);
      expect(r.propagationSteps).toBe(alone[i]!.propagationSteps);
    });
    expect(steps.stats.steps).toBe(alone[0]!.propagationSteps + alone[1]!.propagationSteps);
    expect(steps.stats.chains).toBeLessThan(steps.stats.steps);
    return steps.stats;
  }

  it('volumes propagated at once share their steps: the labels each gets alone, fewer chains than steps (CPU; every slice, and agreeing slices kept)', async () => {
    await sharedSteps(cpuKernels());
    await sharedSteps(cpuKernels(), 0.9);
  }, 600_000);

  describe('on the GPU', () => {
    let handle: GpuHandle | null = null;
    afterAll(() => handle?.release());
    /** A runtime on the adapter, or null with the test skipped where there is none (CI requires one). */
    async function gpuRuntime(ctx: TestContext): Promise<GpuRuntime | null> {
      try {
        handle ??= await openGpu();
      } catch (error) {
        if (requireGpu || !(error instanceof NoAdapterError)) throw error;
        ctx.skip(`no WebGPU adapter here (${(error as Error).message}); CI requires one`);
        return null;
      }
      return new GpuRuntime(handle.device);
    }

    it('volumes propagated at once share their steps: the labels each gets alone, fewer chains (submissions) than steps', async (ctx: TestContext) => {
      const runtime = await gpuRuntime(ctx);
      if (!runtime) return;
      await sharedSteps(gpuKernels(runtime));
      runtime.destroy();
    }, 600_000);

    it("propagation on the device: each slice encoded once, one upload of the slices, traffic and submissions within their bounds, the CPU's masks", async (ctx: TestContext) => {
      const runtime = await gpuRuntime(ctx);
      if (!runtime) return;
      // The spleen and the left kidney meet on this pair: their fused maps are read where they do.
      const { support, query, organs } = await volumePair(['left-kidney', 'spleen']);
      const run = (kernels: Kernels, enabled: boolean, agreement = 1) =>
        segmentOrgans({
          synpo: new Synpo(weightFreeBackend(), kernels, { points: CHAOS_T2.band, propagation: { enabled, agreement } }),
          support,
          query,
          organs,
        });
      const off = await run(gpuKernels(runtime), false);
      const on = await run(gpuKernels(runtime), true);
      const cpu = await run(cpuKernels(), true);
      // With an agreement below 1 the overlaps are measured on the device: the same slices as
      // on the CPU are segmented again.
      const agreeing = await run(gpuKernels(runtime), true, 0.9);
      const agreeingCpu = await run(cpuKernels(), true, 0.9);
      expect(agreeing.propagatedSlices).toBe(agreeingCpu.propagatedSlices);
      expect(agreeing.propagatedSlices).toBeLessThan(on.propagatedSlices);
      agreeing.organs.forEach((o, i) => expect(dice(overlap(o.masks, agreeingCpu.organs[i]!.masks))).toBeGreaterThan(0.9));
      expect(on.propagatedSlices).toBeGreaterThan(0);
      expect(on.propagationSteps).toBeLessThan(on.propagatedSlices); // several rows a step
      expect(on.encodedSlices).toBe(off.encodedSlices);
      expect(on.encodedSlices).toBe(on.range[1] - on.range[0] + 1);
      expect(on.overlapPixels).toBeGreaterThan(0);
      expect(off.overlapPixels).toBeGreaterThan(0);
      for (const [r, agreement] of [
        [on, 1],
        [off, 1],
        [agreeing, 0.9],
      ] as const) {
        const bounds = transferBounds(resolveOptions({ points: CHAOS_T2.band, propagation: { agreement } }), r, query);
        // The slices go up once, as CHAOS's int16 voxels (half the float32 slices' bytes); with two
        // organs the rows' own inputs stay within a tenth of them.
        expect(r.transfers!.uploadBytes).toBeGreaterThanOrEqual(r.encodedSlices * PIXELS * 2);
        expect(r.transfers!.uploadBytes).toBeLessThanOrEqual(1.1 * r.encodedSlices * PIXELS * 2);
        expect(r.transfers!.uploadBytes).toBeLessThanOrEqual(bounds.uploadBytes);
        expect(r.transfers!.readbackBytes).toBeLessThanOrEqual(bounds.readbackBytes);
        expect(r.transfers!.submits).toBeLessThanOrEqual(bounds.submits);
      }
      // The wavefront: a few submissions for the whole pass, not one a slice.
      expect(on.transfers!.submits).toBeLessThanOrEqual(off.transfers!.submits + on.propagationSteps + 2);
      expect(agreeing.transfers!.submits).toBeLessThanOrEqual(off.transfers!.submits + agreeing.propagationSteps + 3); // + the overlaps' chain
      on.organs.forEach((o, i) => expect(dice(overlap(o.masks, cpu.organs[i]!.masks))).toBeGreaterThan(0.9));
      runtime.destroy();
    }, 600_000);
  });
});
