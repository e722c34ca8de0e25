/**
 * SynPo's benchmarks for `synpo bench` (numbers only; nothing here asserts):
 *  - the pipeline: per-slice time of the weight-free backend on a batch of phantom slices, split
 *    into stages, with what crossed between host and GPU (bytes, submissions, maps) per slice;
 *  - the post-encoder stages at the paper's sizes (DINOv2 1536 + SAM 256 channels, 64×64 grid,
 *    400 support cells, 256×256 masks): GPU with the features already on the device, GPU with
 *    their upload, and the CPU references, with a per-stage split;
 *  - f16 features on upload (does halving the bytes pay for the conversion?).
 * (The ONNX backend's per-encoder benchmark is in onnx/bench.ts.)
 * Stage splits: on the CPU, wall time per stage; on the GPU, kernel time per stage from
 * timestamp queries in a separate profiled run (profiling flushes per kernel, so it is never the
 * run the totals come from).
 */
import {
  cpuKernels,
  CpuStream,
  createRng,
  GpuRuntime,
  gpuKernels,
  HostTensor,
  median,
  type Kernels,
  type T,
  type TensorStream,
  type TransferCounts,
} from '@synpo/gpu';
import { confidence, moments, prior, prototype, synergy, threshold, upsampleBilinear } from '@synpo/gpu/kernels';
import { CELLS, GRID, PIXELS, ROI, type Backend } from './backend.ts';
import { phantomPatient } from './phantom.ts';
import { halfToFloat, packHalf } from './half.ts';
import { Synpo, type SupportEncoding } from './synpo.ts';

/** Per slice: what crossed between host and GPU, and how often the host submitted and waited. */
export interface TransfersPerSlice {
  uploadBytesPerSlice: number;
  readbackBytesPerSlice: number;
  submitsPerSlice: number;
  mapsPerSlice: number;
  /** Submissions per batch (the batch is `slices` long). */
  submitsPerBatch: number;
}

export interface PipelineBenchRow {
  path: string;
  slices: number;
  /** ms per slice */
  encoders: number;
  postEncoder: number;
  decoder: number;
  total: number;
  /** How the stage split was measured: CPU wall time, or GPU kernel time from timestamps. */
  split: 'cpu-wall' | 'gpu-timestamps' | 'none';
  /** GPU path only. */
  transfers?: TransfersPerSlice;
}

export interface StageTimes {
  encoders: number;
  /** CMSM, PSM, the prior and NRM's mask steps: everything but the encoders and the decoder. */
  postEncoder: number;
  decoder: number;
  total: number;
}

/** Stage names that are not post-encoder work. */
const ENCODER_STAGES = new Set(['encoders']);
const DECODER_STAGES = new Set(['decoder']);

/** Splits stage totals (ms, keyed by stage) into SynPo's three parts, scaled to `totalMs`. */
export function splitStages(byStage: ReadonlyMap<string, number>, totalMs: number): StageTimes {
  let encoders = 0;
  let decoder = 0;
  let rest = 0;
  for (const [stage, ms] of byStage) {
    if (ENCODER_STAGES.has(stage)) encoders += ms;
    else if (DECODER_STAGES.has(stage)) decoder += ms;
    else rest += ms;
  }
  const sum = encoders + decoder + rest;
  const k = sum > 0 ? totalMs / sum : 0;
  return { encoders: encoders * k, postEncoder: rest * k, decoder: decoder * k, total: totalMs };
}

/**
 * Times SynPo's stages on the CPU references: `kernels` runs every chain on a CPU stream that
 * adds each call's time to the stage it is in.
 */
export class StageTimer {
  readonly kernels: Kernels;
  private stream = new CpuStream(true);

  constructor(base: Kernels) {
    this.kernels = {
      ...base,
      path: base.path,
      maxTensorBytes: base.maxTensorBytes,
      chain: (label, run, options) => (base.path === 'cpu' ? run(this.stream) : base.chain(label, run, options)),
    } as Kernels;
  }

  reset(): void {
    this.stream = new CpuStream(true);
  }

  /** ms per stage since the last reset (CPU path; empty on the GPU path). */
  byStage(): ReadonlyMap<string, number> {
    return this.stream.stageMs;
  }

  stages(totalMs: number): StageTimes {
    return splitStages(this.byStage(), totalMs);
  }
}

/** Kernel time per stage (ms) from a profiled runtime's timestamps (labels are `stage/kernel:entry`). */
export function gpuStageTimes(rt: GpuRuntime): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of rt.profiler?.timings ?? []) {
    const stage = t.label.includes('/') ? t.label.slice(0, t.label.indexOf('/')) : 'other';
    out.set(stage, (out.get(stage) ?? 0) + t.ms);
  }
  return out;
}

function perSlice(before: TransferCounts, after: TransferCounts, slices: number, batches: number): TransfersPerSlice {
  return {
    uploadBytesPerSlice: (after.uploadBytes - before.uploadBytes) / slices,
    readbackBytesPerSlice: (after.readbackBytes - before.readbackBytes) / slices,
    submitsPerSlice: (after.submits - before.submits) / slices,
    mapsPerSlice: (after.maps - before.maps) / slices,
    submitsPerBatch: (after.submits - before.submits) / batches,
  };
}

/** A support slice and query batch from the phantom (liver). */
function phantomBatch(slices: number) {
  const support = phantomPatient(101);
  const query = phantomPatient(102, { slices: Math.max(28, slices) });
  const z0 = Math.floor(support.image.dims[2] / 2);
  const mask = Uint8Array.from(support.labels.data.subarray(z0 * PIXELS, (z0 + 1) * PIXELS), (v) => (v === 1 ? 1 : 0));
  const qz = Math.floor(query.image.dims[2] / 2);
  const start = Math.max(0, qz - Math.floor(slices / 2));
  return {
    support: { image: support.image.data.subarray(z0 * PIXELS, (z0 + 1) * PIXELS), mask },
    batch: query.image.data.slice(start * PIXELS, (start + slices) * PIXELS),
  };
}

export interface PipelinePath {
  name: string;
  kernels: Kernels;
  /** The GPU runtime behind `kernels` (its transfer counters), or null on the CPU. */
  runtime: GpuRuntime | null;
}

/** SynPo per slice on each path, one batch of `slices` phantom slices, median of `reps`. */
export async function runPipelineBench(paths: PipelinePath[], backend: () => Backend, slices = 8, reps = 3): Promise<PipelineBenchRow[]> {
  const { support, batch } = phantomBatch(slices);
  const rows: PipelineBenchRow[] = [];
  for (const { name, kernels, runtime } of paths) {
    const timer = new StageTimer(kernels);
    const synpo = new Synpo(backend(), timer.kernels, { batchSize: slices });
    const enc = await synpo.prepareSupport(support);
    await synpo.segment(enc, batch, slices); // warm-up: pipelines compile, pools fill
    const totals: number[] = [];
    let transfers: TransfersPerSlice | undefined;
    let byStage: ReadonlyMap<string, number> = new Map();
    for (let r = 0; r < reps; r++) {
      timer.reset();
      const before = runtime?.snapshotTransfers();
      const t0 = performance.now();
      await synpo.segment(enc, batch, slices);
      totals.push(performance.now() - t0);
      if (runtime && before) transfers = perSlice(before, runtime.snapshotTransfers(), slices, 1);
      if (r === reps - 1) byStage = new Map(timer.byStage());
    }
    let split: PipelineBenchRow['split'] = kernels.path === 'cpu' ? 'cpu-wall' : 'none';
    if (runtime && kernels.path === 'gpu') {
      // The split on the GPU: kernel time per stage, from a separate profiled run.
      const profiled = new GpuRuntime(runtime.device, { profile: true });
      if (profiled.profiler) {
        const p = new Synpo(backend(), gpuKernels(profiled), { batchSize: slices });
        const penc = await p.prepareSupport(support);
        await p.segment(penc, batch, slices);
        profiled.profiler.reset();
        await p.segment(penc, batch, slices);
        byStage = gpuStageTimes(profiled);
        split = 'gpu-timestamps';
      }
      profiled.destroy();
    }
    await synpo.releaseSupport(enc);
    const total = median(totals) / slices;
    const t = split === 'none' ? { encoders: NaN, postEncoder: NaN, decoder: NaN, total } : splitStages(byStage, total);
    rows.push({ path: name, slices, ...t, split, ...(transfers && { transfers }) });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Post-encoder stages at the paper's sizes

export interface PostEncoderSizes {
  /** Query slices. */
  B: number;
  /** DINOv2 channels (ViT-g/14: 1536). */
  dino: number;
  /** SAM 2.1 image-embedding channels. */
  sam: number;
  /** Support foreground cells (a 20×20 block of the 64×64 grid). */
  supportSide: number;
}

export const PAPER_SIZES: PostEncoderSizes = { B: 32, dino: 1536, sam: 256, supportSide: 20 };

export interface PostEncoderRow {
  path: 'gpu-resident' | 'gpu-upload' | 'cpu';
  label: string;
  /** ms per slice (median of the reps). */
  total: number;
  /** ms per slice per stage (`upload`, `confidence`, `points`, `prior`, `refine`, `read`). */
  stages: Record<string, number>;
  split: 'cpu-wall' | 'gpu-timestamps' | 'none';
  /** Slices per chain (the batch is cut to what one binding holds). */
  chunk: number;
  transfers?: TransfersPerSlice;
}

export interface PostEncoderReport {
  sizes: PostEncoderSizes;
  rows: PostEncoderRow[];
}

function randomFeatures(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

/** The post-encoder chain of one batch on `s`: CMSM, PSM, the prior, NRM's mask steps, the masks read. */
async function postEncoderChain(
  synpo: Synpo,
  s: TensorStream,
  support: SupportEncoding,
  sam: T<'f32'>,
  dino: T<'f32'>,
  B: number,
  sizes: PostEncoderSizes,
  z0: number,
): Promise<number> {
  s.stage('confidence');
  const protoSam = s.resident(support, 'protoSam', () => new HostTensor('f32', [sizes.sam], support.protoSam));
  const protoDino = s.resident(support, 'protoDino', () => new HostTensor('f32', [sizes.dino], support.protoDino));
  const synmap = s.run(
    synergy,
    {
      a: s.run(confidence, { features: sam, prototypes: protoSam }, { B, C: sizes.sam, N: CELLS }),
      b: s.run(confidence, { features: dino, prototypes: protoDino }, { B, C: sizes.dino, N: CELLS }),
    },
    synpo.options.synergy,
  );
  s.stage('points');
  const { positives, top } = synpo.selectPoints(
    s,
    synmap,
    B,
    Array.from({ length: B }, () => support),
    Array.from({ length: B }, (_, b) => z0 + b),
  );
  s.stage('prior');
  const up = s.run(upsampleBilinear, { maps: synmap }, { B, inH: GRID, inW: GRID, outH: ROI, outW: ROI });
  const mus = s.upload(new Float32Array(B).fill(support.mu), [B]);
  const probability = s.run(prior, { maps: up, top, mus }, { B, P: PIXELS, sharpness: synpo.options.priorSharpness });
  s.stage('refine');
  const best = synpo.bestComponents(s, s.run(threshold, { values: probability }, 0.5), up, B);
  s.stage('read');
  const [masks, centres] = await Promise.all([s.readMask(best.mask), s.read(positives.centroids)]);
  return masks.length + centres.length;
}

/**
 * The post-encoder stages per slice at the paper's sizes, on the GPU (features resident, and
 * with their upload) and on the CPU references. Features are random (the stages' cost does not
 * depend on their values); the support is one slice with a `supportSide`² block of organ.
 */
export async function runPostEncoderBench(
  gpu: { kernels: Kernels; runtime: GpuRuntime } | null,
  sizes: PostEncoderSizes = PAPER_SIZES,
  reps = 3,
  log: (m: string) => void = () => {},
): Promise<PostEncoderReport> {
  const { B } = sizes;
  const supportSam = randomFeatures(sizes.sam * CELLS, 1);
  const supportDino = randomFeatures(sizes.dino * CELLS, 2);
  const grid = new Uint8Array(CELLS);
  for (let y = 20; y < 20 + sizes.supportSide; y++) for (let x = 20; x < 20 + sizes.supportSide; x++) grid[y * GRID + x] = 1;
  log(`bench postencoder: features for ${B} slices (${sizes.dino} + ${sizes.sam} channels)`);
  const querySam = randomFeatures(B * sizes.sam * CELLS, 3);
  const queryDino = randomFeatures(B * sizes.dino * CELLS, 4);
  const rows: PostEncoderRow[] = [];

  /** The support side, computed on `kernels` like prepareSupport does. */
  const supportOn = (kernels: Kernels) =>
    kernels.chain('support', async (s): Promise<SupportEncoding> => {
      const g = s.upload(grid, [1, CELLS]);
      const sam = s.upload(supportSam, [1, sizes.sam, CELLS]);
      const dino = s.upload(supportDino, [1, sizes.dino, CELLS]);
      const ps = s.run(prototype, { features: sam, masks: g }, { B: 1, C: sizes.sam, N: CELLS });
      const pd = s.run(prototype, { features: dino, masks: g }, { B: 1, C: sizes.dino, N: CELLS });
      const a = s.run(confidence, { features: sam, prototypes: ps }, { B: 1, C: sizes.sam, N: CELLS });
      const b = s.run(confidence, { features: dino, prototypes: pd }, { B: 1, C: sizes.dino, N: CELLS });
      const fused = s.run(synergy, { a, b }, { both: 0.8, sam: 0.1, dino: 0.1 });
      const stats = s.run(moments, { values: fused, mask: g }, { B: 1, N: CELLS, invert: true });
      const [protoSam, protoDino, st] = await Promise.all([s.read(ps), s.read(pd), s.read(stats)]);
      return {
        image: new Float32Array(PIXELS),
        maskGrid: grid,
        protoSam: protoSam.slice(),
        protoDino: protoDino.slice(),
        synNeg: new Float32Array(0),
        mu: st[1]!,
        sigma: st[2]!,
        extent: { width: 80, height: 80, area: 5000 },
      };
    });

  // Slices per chain: what one binding of the device holds (lavapipe: 128 MiB, a few slices).
  const sliceBytes = sizes.dino * CELLS * 4;
  const chunkFor = (kernels: Kernels) => Math.max(1, Math.min(B, Math.floor(kernels.maxTensorBytes / sliceBytes)));
  const slicesOf = (host: Float32Array, C: number, b0: number, nb: number) => host.subarray(b0 * C * CELLS, (b0 + nb) * C * CELLS);

  const measure = async (
    label: string,
    path: PostEncoderRow['path'],
    kernels: Kernels,
    runtime: GpuRuntime | null,
    resident: boolean,
  ): Promise<PostEncoderRow> => {
    log(`bench postencoder: ${label}`);
    const synpo = new Synpo(backendShape(sizes), kernels, { points: { alpha: 0, beta: -1.5 } });
    const support = await supportOn(kernels);
    const chunk = chunkFor(kernels);
    const owner = {};
    // Features on the device before the clock starts (kept as resident tensors), or uploaded inside it.
    const inputs = (s: TensorStream, b0: number, nb: number) => ({
      sam: resident
        ? s.resident(owner, `sam${b0}`, () => new HostTensor('f32', [nb, sizes.sam, CELLS], slicesOf(querySam, sizes.sam, b0, nb)))
        : s.upload(slicesOf(querySam, sizes.sam, b0, nb), [nb, sizes.sam, CELLS]),
      dino: resident
        ? s.resident(owner, `dino${b0}`, () => new HostTensor('f32', [nb, sizes.dino, CELLS], slicesOf(queryDino, sizes.dino, b0, nb)))
        : s.upload(slicesOf(queryDino, sizes.dino, b0, nb), [nb, sizes.dino, CELLS]),
    });
    /** The batch in chunks, each one chain, on kernels `k` (SynPo and the support made on them). */
    const runOn = async (k: Kernels, on: Synpo, sup: SupportEncoding) => {
      for (let b0 = 0; b0 < B; b0 += chunk) {
        const nb = Math.min(chunk, B - b0);
        await k.chain('postencoder', async (s) => {
          s.stage('upload');
          const { sam, dino } = inputs(s, b0, nb);
          return postEncoderChain(on, s, sup, sam, dino, nb, sizes, b0);
        });
      }
    };
    const once = (k: Kernels) => runOn(k, synpo, support);
    // Residents are made by the first (warm-up) run.
    await once(kernels);
    const totals: number[] = [];
    let transfers: TransfersPerSlice | undefined;
    let stages = new Map<string, number>();
    for (let r = 0; r < reps; r++) {
      const before = runtime?.snapshotTransfers();
      // On the CPU every chain runs on one timing stream: wall time per stage.
      const timing = new CpuStream(true);
      const k = kernels.path === 'cpu' ? ({ ...kernels, chain: (_label, run) => run(timing) } as Kernels) : kernels;
      const t0 = performance.now();
      await once(k);
      totals.push(performance.now() - t0);
      if (kernels.path === 'cpu') stages = new Map(timing.stageMs);
      if (runtime && before) transfers = perSlice(before, runtime.snapshotTransfers(), B, Math.ceil(B / chunk));
    }
    let split: PostEncoderRow['split'] = kernels.path === 'cpu' ? 'cpu-wall' : 'none';
    if (runtime) {
      const profiled = new GpuRuntime(runtime.device, { profile: true });
      if (profiled.profiler) {
        const pk = gpuKernels(profiled);
        const psupport = await supportOn(pk);
        const psynpo = new Synpo(backendShape(sizes), pk, { points: { alpha: 0, beta: -1.5 } });
        await runOn(pk, psynpo, psupport);
        profiled.profiler.reset();
        await runOn(pk, psynpo, psupport);
        releaseAll(profiled, owner);
        stages = gpuStageTimes(profiled);
        split = 'gpu-timestamps';
      }
      profiled.destroy();
      releaseAll(runtime, owner);
    }
    const total = median(totals) / B;
    const sum = [...stages.values()].reduce((a, v) => a + v, 0);
    // The split is scaled to the measured total: timestamps cover kernels only, not the host.
    const scaled = Object.fromEntries([...stages].map(([k, v]) => [k, sum > 0 ? (v / sum) * total : NaN]));
    return { path, label, total, stages: scaled, split, chunk, ...(transfers && { transfers }) };
  };

  if (gpu) {
    const resident = await measure('GPU, features on the device', 'gpu-resident', gpu.kernels, gpu.runtime, true);
    const uploaded = await measure('GPU, features uploaded', 'gpu-upload', gpu.kernels, gpu.runtime, false);
    // Timestamps cover kernels, not queue writes: the upload stage is the difference of the two
    // rows' totals, and the kernel stages share the rest.
    const upload = Math.max(0, uploaded.total - resident.total);
    const rest = Object.entries(uploaded.stages).filter(([k]) => k !== 'upload');
    const restSum = rest.reduce((a, [, v]) => a + v, 0);
    uploaded.stages = { upload, ...Object.fromEntries(rest.map(([k, v]) => [k, restSum > 0 ? (v / restSum) * (uploaded.total - upload) : NaN])) };
    rows.push(resident, uploaded);
  }
  rows.push(await measure('CPU references', 'cpu', cpuKernels(), null, false));
  return { sizes, rows };
}

/** A backend shape (channel counts only): the post-encoder bench never encodes or decodes. */
function backendShape(sizes: PostEncoderSizes): Backend {
  const never = async (): Promise<never> => {
    throw new Error('the post-encoder benchmark has no encoders or decoder');
  };
  return {
    name: 'features',
    dino: { name: 'given features', role: 'dino', channels: sizes.dino, encode: never },
    sam: { name: 'given features', role: 'sam', channels: sizes.sam, encode: never },
    decoder: { name: 'none', decode: never },
  };
}

function releaseAll(runtime: GpuRuntime, owner: object): void {
  const s = gpuKernels(runtime);
  void s.chain('release', async (stream) => stream.releaseResident(owner));
}

// ---------------------------------------------------------------------------------------------
// f16 features on upload: does halving the bytes pay for the conversion?

export interface HalfUploadReport {
  /** Values per slice (DINOv2 + SAM channels × 64·64). */
  values: number;
  /** ms per slice to convert f32 → packed f16 pairs on the host (one thread). */
  convertMs: number;
  /** ms per slice to write the f32 / packed f16 features to this adapter, or null without a GPU. */
  uploadF32Ms: number | null;
  uploadF16Ms: number | null;
  bytesSaved: number;
  /** Below this host→GPU rate (GB/s) the saved bytes would take longer to move than the conversion takes. */
  breakEvenGBs: number;
  /** Largest |fused confidence| change from rounding the features to f16 (CPU references). */
  maxSynergyError: number;
  /** The fused map's range (max − min) on the same slice, for scale. */
  synergyRange: number;
}

/**
 * Measures the f16 upload option at the paper's sizes: the host conversion, the two uploads on
 * this adapter, the break-even transfer rate, and the accuracy cost in the fused confidence.
 */
export async function runHalfUploadBench(runtime: GpuRuntime | null, sizes: PostEncoderSizes = PAPER_SIZES, reps = 3): Promise<HalfUploadReport> {
  const C = sizes.dino + sizes.sam;
  const values = C * CELLS;
  const feats = randomFeatures(values, 9);
  const converts: number[] = [];
  let packed: Uint32Array = new Uint32Array(0);
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    packed = packHalf(feats);
    if (r > 0) converts.push(performance.now() - t0);
  }
  let uploadF32Ms: number | null = null;
  let uploadF16Ms: number | null = null;
  if (runtime) {
    const time = async (data: Float32Array | Uint32Array) => {
      const runs: number[] = [];
      for (let r = 0; r <= reps; r++) {
        const rec = runtime.recorder('upload');
        const t0 = performance.now();
        rec.upload(data, 'upload');
        await runtime.device.queue.onSubmittedWorkDone();
        if (r > 0) runs.push(performance.now() - t0);
        rec.end();
      }
      return median(runs);
    };
    uploadF32Ms = await time(feats);
    uploadF16Ms = await time(packed);
  }
  // Accuracy: the fused confidence of a query from f16-rounded features against f32 ones.
  const half = Float32Array.from({ length: values }, (_, i) => halfToFloat(i % 2 ? packed[i >> 1]! >>> 16 : packed[i >> 1]! & 0xffff));
  const grid = new Uint8Array(CELLS);
  for (let y = 20; y < 20 + sizes.supportSide; y++) for (let x = 20; x < 20 + sizes.supportSide; x++) grid[y * GRID + x] = 1;
  const support = randomFeatures(values, 10);
  const fused = (q: Float32Array) => {
    const s = new CpuStream();
    const conf = (C0: number, C1: number, x: Float32Array) => {
      const sup = s.upload(support.slice(C0 * CELLS, C1 * CELLS), [1, C1 - C0, CELLS]);
      const proto = s.run(prototype, { features: sup, masks: s.upload(grid, [1, CELLS]) }, { B: 1, C: C1 - C0, N: CELLS });
      return s.run(confidence, { features: s.upload(x.slice(C0 * CELLS, C1 * CELLS), [1, C1 - C0, CELLS]), prototypes: proto }, { B: 1, C: C1 - C0, N: CELLS });
    };
    return (s.run(synergy, { a: conf(0, sizes.sam, q), b: conf(sizes.sam, C, q) }, { both: 0.8, sam: 0.1, dino: 0.1 }) as HostTensor<'f32'>).data;
  };
  const exact = fused(feats);
  const rounded = fused(half);
  const maxSynergyError = exact.reduce((m, v, i) => Math.max(m, Math.abs(v - rounded[i]!)), 0);
  const convertMs = median(converts);
  const bytesSaved = values * 2;
  const synergyRange = exact.reduce((m, v) => Math.max(m, v), -Infinity) - exact.reduce((m, v) => Math.min(m, v), Infinity);
  return { values, convertMs, uploadF32Ms, uploadF16Ms, bytesSaved, breakEvenGBs: bytesSaved / (convertMs * 1e6), maxSynergyError, synergyRange };
}
