/**
 * Tensor streams: the device-in/device-out form of every kernel SynPo's pipeline chains. A stream
 * takes tensors and returns tensors; on the GPU every call records into one command encoder and
 * nothing crosses to the host until `read` (or a random walker's convergence check) asks for it,
 * and on the CPU every call runs its reference at once. The pipeline is written once against
 * this interface, so both paths run the same sequence of stages.
 *
 * Ownership: everything a stream creates is released by `end()`, except what `keep()` hands
 * over. `resident()` tensors live as long as their owner object (released with `releaseResident`).
 */
import { componentsReference, type Connectivity } from './reference/components.ts';
import { confidenceNaiveReference, confidenceReference } from './reference/confidence.ts';
import { appearanceReference, type AppearanceSpec } from './reference/features.ts';
import { gaussianReference } from './reference/gaussian.ts';
import { kmeansPlusPlusFromDraws, lloydReference } from './reference/kmeans.ts';
import { momentsReference, type RowsShape } from './reference/moments.ts';
import { morphologyReference, type MorphologyOp, type StructuringElement } from './reference/morphology.ts';
import { cellPointsReference, sampleRowsReference } from './reference/points.ts';
import { priorReference } from './reference/prior.ts';
import { seedMapReference, shrinkInputsReference, type DecoderInputOptions } from './reference/prompt.ts';
import { prototypeReference } from './reference/prototype.ts';
import { randomWalkerReference, type RandomWalkerOptions } from './reference/random-walker.ts';
import { bestComponentMaskReference, keepRowsReference, thresholdReference } from './reference/refine.ts';
import { areaThresholdReference, type AreaThresholdOptions } from './reference/area.ts';
import { guidePenaltyReference, poolMaskReference, validateGuideShape, type GuideShape } from './reference/guide.ts';
import { downsampleMaskReference, upsampleBilinearReference, type ResizeShape } from './reference/resize.ts';
import { synergyReference, type SynergyWeights } from './reference/synergy.ts';
import { topkReference } from './reference/topk.ts';
import { tokensToGridReference, type TokenShape } from './reference/tokens.ts';
import { bandReference } from './reference/band.ts';
import { promptRowsReference, validatePromptRows, type PromptRowsOptions, type PromptRowsShape } from './reference/box.ts';
import { recordPromptRows } from './kernels/box.ts';
import { recordBand } from './kernels/band.ts';
import { recordComponents } from './kernels/components.ts';
import { recordConfidence, recordConfidenceNaive } from './kernels/confidence.ts';
import { recordAppearance, recordStackPosition } from './kernels/features.ts';
import { recordGaussian } from './kernels/gaussian.ts';
import { recordKMeans } from './kernels/kmeans.ts';
import { recordMoments } from './kernels/moments.ts';
import { recordMorphology } from './kernels/morphology.ts';
import { recordCellPoints, recordSampleRows } from './kernels/points.ts';
import { recordPrior } from './kernels/prior.ts';
import { recordAreaThreshold } from './kernels/area.ts';
import { recordGuidePenalty, recordPoolMask } from './kernels/guide.ts';
import { recordDecoderInputs } from './kernels/prompt.ts';
import { recordPrototype } from './kernels/prototype.ts';
import { RANDOM_WALKER_CHECKS, solveRandomWalker } from './kernels/random-walker.ts';
import { recordBestComponent, recordKeepRows, recordMaskToF32, recordPack, recordPackBits, recordThreshold } from './kernels/refine.ts';
import { unpackBits } from './reference/refine.ts';
import { recordDownsampleMask, recordUpsampleBilinear } from './kernels/resize.ts';
import { recordSynergy } from './kernels/synergy.ts';
import { recordTopK } from './kernels/topk.ts';
import { recordTokensToGrid } from './kernels/tokens.ts';
import { maskIndices } from './kernels/upload.ts';
import type { ComputePath } from './kernels.ts';
import type { GpuRuntime, Readback, Recorder } from './runtime.ts';
import { ShapeError, type FeatureShape, type ImageShape } from './shapes.ts';
import { DeviceTensor, elementCount, HostTensor, type DType, type HostArrayOf, type Tensor } from './tensor.ts';

/** A tensor of a known dtype (what the stream's methods take and give). */
export type T<D extends DType = DType> = Tensor & { readonly dtype: D };

/** 0xffffffff: "no component" in a best-component row flag. */
export const NO_COMPONENT = 0xffffffff;

export interface TensorStream {
  readonly path: ComputePath;
  /** Largest tensor this stream can bind, in bytes (batch sizes are chosen from it). */
  readonly maxTensorBytes: number;
  /** Names the stage the following kernels belong to (profiler labels, CPU stage timings). */
  stage(name: string): void;

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  /** The tensor's values on the host (on the GPU: one submission shared by the reads of a task). */
  read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]>;
  /** A mask's values as 0/1 (not 0 → 1); on the GPU they cross as bits, 32 to a word. */
  readMask(tensor: T<'mask'>): Promise<Uint8Array>;
  /**
   * Submits what is recorded and waits for it and its reads (on the GPU; a no-op on the CPU). The
   * tensors stay usable: work recorded after it goes into the next submission.
   */
  sync(): Promise<void>;
  /**
   * Whether every random-walker solve recorded ahead of its convergence check (a speculative
   * stream, see GpuStreamOptions) converged within the iterations recorded. Read it after a
   * `sync` or a read that followed the solves; always true on the CPU and on a checked stream.
   */
  settled(): boolean;
  /** A tensor that lives as long as `owner` on this path, made once from `make()`. */
  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D>): T<D>;
  /** Releases the resident tensors of `owner` on this stream's device. */
  releaseResident(owner: object): void;
  /** Hands `tensor` to the caller: `end()` will not release it. */
  keep<D extends DType>(tensor: T<D>): T<D>;
  release(tensor: Tensor): void;
  /** Releases everything the stream made and did not hand over. */
  end(): void;

  prototype(feats: T<'f32'>, masks: T<'mask'>, shape: FeatureShape): T<'f32'>;
  /** One prototype per grid ([B][C]) or one shared by all ([C]). */
  confidence(feats: T<'f32'>, protos: T<'f32'>, shape: FeatureShape): T<'f32'>;
  confidenceNaive(query: T<'f32'>, support: T<'f32'>, supportMask: Uint8Array, shape: FeatureShape): T<'f32'>;
  synergy(a: T<'f32'>, b: T<'f32'>, weights: SynergyWeights): T<'f32'>;
  upsampleBilinear(maps: T<'f32'>, shape: ResizeShape): T<'f32'>;
  downsampleMask(masks: T<'mask'>, shape: ResizeShape): T<'mask'>;
  /** [B][3] count, mean, std; `invert` takes the values where the mask is not set. */
  moments(values: T<'f32'>, mask: T<'mask'> | null, shape: RowsShape, invert?: boolean): T<'f32'>;
  /** Per row, the indices of values in [lo, hi] ([B][N], the first counts[b] valid); bounds [B][2]. */
  band(values: T<'f32'>, bounds: T<'f32'>, shape: RowsShape): { indices: T<'u32'>; counts: T<'u32'> };
  /** The k largest values per row ([B][k]) with their indices, ties to the lower index. */
  topk(values: T<'f32'>, shape: RowsShape, k: number): { values: T<'f32'>; indices: T<'u32'> };
  /** A seeded subset of m of each row's first counts[b] indices ([B][m] 24-bit draws), ascending. */
  sampleRows(indices: T<'u32'>, counts: T<'u32'>, shape: { B: number; n: number; m: number }, draws: T<'u32'>): { indices: T<'u32'>; counts: T<'u32'> };
  /** Cell indices of a G-wide grid → (x, y) points ([B][n][2]), with each row's count. */
  cellPoints(indices: T<'u32'>, counts: T<'u32'> | null, shape: { B: number; n: number; G: number }): { points: T<'f32'>; counts: T<'u32'> };
  /** k-means++ from [B][k] 24-bit draws, then Lloyd: centres [B][k][2] and sizes [B][k] (0: dropped). */
  kmeans(
    points: T<'f32'>,
    counts: T<'u32'>,
    shape: { B: number; n: number; k: number },
    draws: T<'u32'>,
    maxIterations: number,
  ): { centroids: T<'f32'>; sizes: T<'u32'> };
  morphology(masks: T<'mask'>, shape: ImageShape, op: MorphologyOp, element: StructuringElement): T<'mask'>;
  /** Per slice, the component with the best mean of `values`; `found` [B] its root, or NO_COMPONENT. */
  bestComponent(masks: T<'mask'>, values: T<'f32'>, shape: ImageShape, connectivity: Connectivity): { mask: T<'mask'>; found: T<'u32'> };
  /** `masks` where the row's `found` flag names a component, else cleared. */
  keepRows(masks: T<'mask'>, found: T<'u32'>, shape: { B: number; P: number }): T<'mask'>;
  threshold(values: T<'f32'>, t: number): T<'mask'>;
  /** The fraction of set pixels per G×G cell of [B][H][W] masks: [B][G·G]. */
  poolMask(masks: T<'mask'>, shape: GuideShape): T<'f32'>;
  /** Per row of [B][N] maps: maps − w·(1 − guide / max(guide)); rows with an empty guide unchanged. */
  guidePenalty(maps: T<'f32'>, guide: T<'f32'>, shape: { B: number; N: number }, w: number): T<'f32'>;
  /** Per row, value > t with t where the values reach the row's target area ([B] pixels), clamped (see area.wgsl). */
  areaThreshold(values: T<'f32'>, targets: T<'f32'>, shape: { B: number; P: number }, options: AreaThresholdOptions): T<'mask'>;
  gaussian(maps: T<'f32'>, shape: ImageShape, sigma: number): T<'f32'>;
  appearance(slices: T<'f32'>, shape: ImageShape, spec: AppearanceSpec): T<'f32'>;
  /** [B][C][N] × weight, then the shared [Cp][N] channels: [B][C + Cp][N]. */
  stackPosition(appearance: T<'f32'>, position: T<'f32'>, shape: FeatureShape, Cp: number, weight: number): T<'f32'>;
  /** The logistic prior of [B][P] maps from each row's top-cell moments ([B][3]) and its support's μ ([B]). */
  prior(maps: T<'f32'>, top: T<'f32'>, shape: { B: number; P: number }, mus: T<'f32'>, sharpness: number): T<'f32'>;
  /**
   * The weight-free decoder's prompt rows [B][1 + Kn + Kp][4] (the walk's box, then the points)
   * from PSM's k-means centres; `extents` [B][2] the rows' support-organ width and height, or null.
   */
  promptRows(
    pos: { centroids: T<'f32'>; sizes: T<'u32'> },
    neg: { centroids: T<'f32'>; sizes: T<'u32'> } | null,
    extents: T<'f32'> | null,
    shape: PromptRowsShape,
    options: PromptRowsOptions,
  ): T<'f32'>;
  /** The weight-free decoder's shrunk slice, prior and seeds; `prompts` [B][1 + P][4]. */
  decoderInputs(
    image: T<'f32'>,
    prior: T<'f32'> | null,
    maskPrompt: T<'mask'> | null,
    prompts: T<'f32'>,
    shape: ImageShape,
    P: number,
    options: DecoderInputOptions,
  ): { image: T<'f32'>; prior: T<'f32'>; seeds: T<'mask'> };
  /** ViT tokens [B][T][C] → channel-first grids [B][C][cells], the leading `skip` tokens dropped. */
  tokensToGrid(tokens: T<'f32'>, shape: TokenShape): T<'f32'>;
  /** Tensors joined along their first axis (batches of grids from several model runs). */
  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'>;
  /** The given rows (first axis) of a tensor, in the given order: [rows.length, …rest]. */
  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D>;
  /** Rows of several tensors of one row size, in the given order (take over many tensors). */
  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D>;
  /** The random walker's probability [B][H·W] in [0, 1] (on the GPU it checks convergence now and then). */
  randomWalker(image: T<'f32'>, seeds: T<'mask'>, prior: T<'f32'>, shape: ImageShape, options: RandomWalkerOptions): Promise<T<'f32'>>;
}

const storeOf = (owner: object, stores: WeakMap<object, Map<string, Tensor>>): Map<string, Tensor> => {
  let map = stores.get(owner);
  if (!map) stores.set(owner, (map = new Map()));
  return map;
};

// ------------------------------------------------------------------------------------------
// GPU

const residentStores = new WeakMap<GpuRuntime, WeakMap<object, Map<string, Tensor>>>();

/** Releases the GPU tensors kept for `owner` on `runtime` (a support that is done with). */
export function releaseResident(runtime: GpuRuntime, owner: object): void {
  const map = residentStores.get(runtime)?.get(owner);
  if (!map) return;
  for (const t of map.values()) (t as DeviceTensor).release();
  residentStores.get(runtime)!.delete(owner);
}

export interface GpuStreamOptions {
  /**
   * Record each random-walker solve's first RANDOM_WALKER_CHECKS.first iterations with no host
   * check, and read the convergence flags with the stream's next submission instead: a chain then
   * needs no submission between its start and its reads. `settled()` says afterwards whether
   * every solve converged in time; when one did not, the caller runs the chain again on a checked
   * stream (solves are deterministic, so the results are the same as a checked run's).
   */
  speculative?: boolean;
}

export class GpuStream implements TensorStream {
  readonly path = 'gpu' as const;
  readonly rec: Recorder;
  private readonly speculative: boolean;
  /** The convergence flags of the solves recorded ahead of their checks. */
  private readonly checks: Readback<Float32Array>[] = [];

  constructor(
    readonly runtime: GpuRuntime,
    label: string,
    options: GpuStreamOptions = {},
  ) {
    this.rec = runtime.recorder(label);
    this.speculative = Boolean(options.speculative);
  }

  get maxTensorBytes(): number {
    return this.runtime.maxBindingBytes;
  }

  stage(name: string): void {
    this.rec.stage = name;
  }

  private dev<D extends DType>(t: T<D>): DeviceTensor<D> {
    if (!(t instanceof DeviceTensor)) throw new TypeError('a GPU stream takes device tensors (upload host data first)');
    return t as DeviceTensor<D>;
  }

  private shaped<D extends DType>(t: DeviceTensor, dtype: D, shape: readonly number[]): DeviceTensor<D> {
    t.dtype = dtype;
    t.shape = shape;
    return t as DeviceTensor<D>;
  }

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  upload(data: Float32Array | Uint32Array | Uint8Array, shape: readonly number[]): T {
    if (data.length !== elementCount(shape)) throw new ShapeError('upload', `${data.length} values for shape [${shape.join(', ')}]`);
    if (data instanceof Uint8Array) return this.rec.upload(Uint32Array.from(data), 'upload:mask', 'mask', shape);
    return this.rec.upload(data, 'upload', data instanceof Float32Array ? 'f32' : 'u32', shape);
  }

  async read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]> {
    const t = this.dev(tensor);
    const n = t.size;
    if (t.dtype === 'mask') {
      // Four values to a word on the device: a quarter of the bytes cross.
      const words = await this.rec.download(recordPack(this.rec, t, n), Uint32Array);
      return new Uint8Array(words.buffer, 0, n) as HostArrayOf[D];
    }
    const values = t.dtype === 'f32' ? await this.rec.download(t, Float32Array, n * 4) : await this.rec.download(t, Uint32Array, n * 4);
    return values as HostArrayOf[D];
  }

  async readMask(tensor: T<'mask'>): Promise<Uint8Array> {
    const t = this.dev(tensor);
    return unpackBits(await this.rec.download(recordPackBits(this.rec, t, t.size), Uint32Array), t.size);
  }

  sync(): Promise<void> {
    return this.rec.flush();
  }

  settled(): boolean {
    // The flags are [B][8] per solve; index 6 is a slice's done flag.
    return this.checks.every((c) => {
      if (!c.value) throw new Error(`${this.rec.label}: settled() asked before the solves' flags were read (sync first)`);
      return c.value.every((v, i) => i % 8 !== 6 || v !== 0);
    });
  }

  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D>): T<D> {
    let stores = residentStores.get(this.runtime);
    if (!stores) residentStores.set(this.runtime, (stores = new WeakMap()));
    const map = storeOf(owner, stores);
    let t = map.get(key) as DeviceTensor<D> | undefined;
    if (!t || t.isReleased) {
      const h = make();
      const up = this.upload(h.data as never, h.shape) as unknown as DeviceTensor;
      t = this.rec.keep(up, h.dtype, h.shape);
      map.set(key, t);
    }
    return t;
  }

  releaseResident(owner: object): void {
    releaseResident(this.runtime, owner);
  }

  keep<D extends DType>(tensor: T<D>): T<D> {
    const t = this.dev(tensor);
    return this.rec.keep(t, t.dtype, t.shape);
  }

  release(tensor: Tensor): void {
    this.rec.release(this.dev(tensor as T));
  }

  end(): void {
    this.rec.end();
  }

  prototype(feats: T<'f32'>, masks: T<'mask'>, s: FeatureShape): T<'f32'> {
    return this.shaped(recordPrototype(this.rec, this.dev(feats), this.dev(masks), s) as DeviceTensor, 'f32', [s.B, s.C]);
  }

  confidence(feats: T<'f32'>, protos: T<'f32'>, s: FeatureShape): T<'f32'> {
    const p = this.dev(protos);
    return this.shaped(recordConfidence(this.rec, this.dev(feats), p, s, p.size === s.C) as DeviceTensor, 'f32', [s.B, s.N]);
  }

  confidenceNaive(query: T<'f32'>, support: T<'f32'>, supportMask: Uint8Array, s: FeatureShape): T<'f32'> {
    const fg = maskIndices(supportMask);
    const out = recordConfidenceNaive(
      this.rec,
      this.dev(query),
      this.dev(support),
      this.rec.upload(fg, 'confidence-naive:fg'),
      fg.length,
      s,
      supportMask.length,
    );
    return this.shaped(out as DeviceTensor, 'f32', [s.B, s.N]);
  }

  synergy(a: T<'f32'>, b: T<'f32'>, w: SynergyWeights): T<'f32'> {
    const da = this.dev(a);
    return this.shaped(recordSynergy(this.rec, da, this.dev(b), da.size, w) as DeviceTensor, 'f32', da.shape);
  }

  upsampleBilinear(maps: T<'f32'>, s: ResizeShape): T<'f32'> {
    return this.shaped(recordUpsampleBilinear(this.rec, this.dev(maps), s) as DeviceTensor, 'f32', [s.B, s.outH * s.outW]);
  }

  downsampleMask(masks: T<'mask'>, s: ResizeShape): T<'mask'> {
    // The resize kernel reads masks as f32 0/1.
    const f = recordMaskToF32(this.rec, this.dev(masks));
    return this.shaped(recordDownsampleMask(this.rec, f, s).cells as DeviceTensor, 'mask', [s.B, s.outH * s.outW]);
  }

  moments(values: T<'f32'>, mask: T<'mask'> | null, s: RowsShape, invert = false): T<'f32'> {
    return recordMoments(this.rec, this.dev(values), mask ? this.dev(mask) : null, s, invert) as DeviceTensor<'f32'>;
  }

  band(values: T<'f32'>, bounds: T<'f32'>, s: RowsShape): { indices: T<'u32'>; counts: T<'u32'> } {
    const r = recordBand(this.rec, this.dev(values), this.dev(bounds), s);
    return { indices: this.shaped(r.indices as DeviceTensor, 'u32', [s.B, s.N]), counts: this.shaped(r.counts as DeviceTensor, 'u32', [s.B]) };
  }

  topk(values: T<'f32'>, s: RowsShape, k: number): { values: T<'f32'>; indices: T<'u32'> } {
    const r = recordTopK(this.rec, this.dev(values), s);
    // Each sorted row starts with its top k: gather them into [B][k].
    const vals = this.rec.scratch(s.B * k * 4, 'topk:top-values', false, 'f32', [s.B, k]);
    const idx = this.rec.scratch(s.B * k * 4, 'topk:top-indices', false, 'u32', [s.B, k]);
    for (let b = 0; b < s.B; b++) {
      this.rec.copy(r.vals, b * r.P * 4, vals, b * k * 4, k * 4);
      this.rec.copy(r.idx, b * r.P * 4, idx, b * k * 4, k * 4);
    }
    return { values: vals as DeviceTensor<'f32'>, indices: idx as DeviceTensor<'u32'> };
  }

  sampleRows(indices: T<'u32'>, counts: T<'u32'>, s: { B: number; n: number; m: number }, draws: T<'u32'>): { indices: T<'u32'>; counts: T<'u32'> } {
    const r = recordSampleRows(this.rec, this.dev(indices), this.dev(counts), this.dev(draws), s);
    return { indices: r.sampled as DeviceTensor<'u32'>, counts: r.counts as DeviceTensor<'u32'> };
  }

  cellPoints(indices: T<'u32'>, counts: T<'u32'> | null, s: { B: number; n: number; G: number }): { points: T<'f32'>; counts: T<'u32'> } {
    const r = recordCellPoints(this.rec, this.dev(indices), counts ? this.dev(counts) : null, s);
    return { points: r.points as DeviceTensor<'f32'>, counts: r.counts as DeviceTensor<'u32'> };
  }

  kmeans(
    points: T<'f32'>,
    counts: T<'u32'>,
    s: { B: number; n: number; k: number },
    draws: T<'u32'>,
    maxIterations: number,
  ): { centroids: T<'f32'>; sizes: T<'u32'> } {
    const r = recordKMeans(this.rec, this.dev(points), this.dev(counts), { draws: this.dev(draws) }, { B: s.B, K: s.k, nMax: s.n, maxIterations });
    return { centroids: this.shaped(r.centroids, 'f32', [s.B, s.k, 2]), sizes: this.shaped(r.sizes, 'u32', [s.B, s.k]) };
  }

  morphology(masks: T<'mask'>, s: ImageShape, op: MorphologyOp, element: StructuringElement): T<'mask'> {
    return this.shaped(recordMorphology(this.rec, this.dev(masks), s, op, element) as DeviceTensor, 'mask', [s.B, s.H * s.W]);
  }

  bestComponent(masks: T<'mask'>, values: T<'f32'>, s: ImageShape, connectivity: Connectivity): { mask: T<'mask'>; found: T<'u32'> } {
    const c = recordComponents(this.rec, this.dev(masks), this.dev(values), s, connectivity);
    const r = recordBestComponent(this.rec, c, { B: s.B, P: s.H * s.W });
    return { mask: r.mask as DeviceTensor<'mask'>, found: r.best as DeviceTensor<'u32'> };
  }

  keepRows(masks: T<'mask'>, found: T<'u32'>, s: { B: number; P: number }): T<'mask'> {
    return recordKeepRows(this.rec, this.dev(masks), this.dev(found), s) as DeviceTensor<'mask'>;
  }

  threshold(values: T<'f32'>, t: number): T<'mask'> {
    const v = this.dev(values);
    const B = v.shape.length > 1 ? v.shape[0]! : 1;
    return this.shaped(recordThreshold(this.rec, v, { B, P: v.size / B }, t), 'mask', v.shape);
  }

  poolMask(masks: T<'mask'>, s: GuideShape): T<'f32'> {
    validateGuideShape(s);
    return recordPoolMask(this.rec, this.dev(masks), s) as DeviceTensor<'f32'>;
  }

  promptRows(
    pos: { centroids: T<'f32'>; sizes: T<'u32'> },
    neg: { centroids: T<'f32'>; sizes: T<'u32'> } | null,
    extents: T<'f32'> | null,
    s: PromptRowsShape,
    o: PromptRowsOptions,
  ): T<'f32'> {
    validatePromptRows(s, o);
    const out = recordPromptRows(
      this.rec,
      { centres: this.dev(pos.centroids), sizes: this.dev(pos.sizes) },
      neg && { centres: this.dev(neg.centroids), sizes: this.dev(neg.sizes) },
      extents && this.dev(extents),
      s,
      o,
    );
    return out as DeviceTensor<'f32'>;
  }

  guidePenalty(maps: T<'f32'>, guide: T<'f32'>, s: { B: number; N: number }, w: number): T<'f32'> {
    if (!Number.isFinite(w)) throw new ShapeError('guide', `the weight must be finite, got ${w}`);
    return recordGuidePenalty(this.rec, this.dev(maps), this.dev(guide), s, w) as DeviceTensor<'f32'>;
  }

  areaThreshold(values: T<'f32'>, targets: T<'f32'>, s: { B: number; P: number }, o: AreaThresholdOptions): T<'mask'> {
    if (!(o.lo <= o.hi) || ![o.lo, o.hi, o.fallback].every(Number.isFinite))
      throw new ShapeError('area', `the threshold range must be finite with lo ≤ hi, got ${JSON.stringify(o)}`);
    return recordAreaThreshold(this.rec, this.dev(values), this.dev(targets), s, o) as DeviceTensor<'mask'>;
  }

  gaussian(maps: T<'f32'>, s: ImageShape, sigma: number): T<'f32'> {
    return this.shaped(recordGaussian(this.rec, this.dev(maps), s, sigma) as DeviceTensor, 'f32', [s.B, s.H * s.W]);
  }

  appearance(slices: T<'f32'>, s: ImageShape, spec: AppearanceSpec): T<'f32'> {
    const cells = (s.H / spec.pool) * (s.W / spec.pool);
    return this.shaped(recordAppearance(this.rec, this.dev(slices), s, spec) as DeviceTensor, 'f32', [s.B, 2 * spec.sigmas.length, cells]);
  }

  stackPosition(appearance: T<'f32'>, position: T<'f32'>, s: FeatureShape, Cp: number, weight: number): T<'f32'> {
    return recordStackPosition(this.rec, this.dev(appearance), this.dev(position), s, Cp, weight) as DeviceTensor<'f32'>;
  }

  prior(maps: T<'f32'>, top: T<'f32'>, s: { B: number; P: number }, mus: T<'f32'>, sharpness: number): T<'f32'> {
    return recordPrior(this.rec, this.dev(maps), this.dev(top), this.dev(mus), s, sharpness) as DeviceTensor<'f32'>;
  }

  decoderInputs(
    image: T<'f32'>,
    prior: T<'f32'> | null,
    maskPrompt: T<'mask'> | null,
    prompts: T<'f32'>,
    s: ImageShape,
    P: number,
    o: DecoderInputOptions,
  ): { image: T<'f32'>; prior: T<'f32'>; seeds: T<'mask'> } {
    const r = recordDecoderInputs(
      this.rec,
      this.dev(image),
      prior ? this.dev(prior) : null,
      maskPrompt ? this.dev(maskPrompt) : null,
      this.dev(prompts),
      s,
      P,
      o,
    );
    return { image: r.image as DeviceTensor<'f32'>, prior: r.prior as DeviceTensor<'f32'>, seeds: r.seeds as DeviceTensor<'mask'> };
  }

  tokensToGrid(tokens: T<'f32'>, s: TokenShape): T<'f32'> {
    return recordTokensToGrid(this.rec, this.dev(tokens), s) as DeviceTensor<'f32'>;
  }

  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'> {
    const out = this.rec.scratch(elementCount(shape) * 4, 'concat', false, 'f32', shape);
    let offset = 0;
    for (const part of parts) {
      const d = this.dev(part);
      this.rec.copy(d, 0, out, offset, d.size * 4);
      offset += d.size * 4;
    }
    if (offset !== out.bytes) throw new ShapeError('concat', `the parts hold ${offset / 4} values, the shape [${shape.join(', ')}] ${out.size}`);
    return out as DeviceTensor<'f32'>;
  }

  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D> {
    const t = this.dev(tensor);
    const rowBytes = (t.size / t.shape[0]!) * 4;
    const shape = [rows.length, ...t.shape.slice(1)];
    const out = this.rec.scratch(rows.length * rowBytes, 'take', false, t.dtype, shape);
    rows.forEach((r, i) => {
      if (!(r >= 0 && r < t.shape[0]!)) throw new ShapeError('take', `row ${r} is outside 0..${t.shape[0]! - 1}`);
      this.rec.copy(t, r * rowBytes, out, i * rowBytes, rowBytes);
    });
    return out as DeviceTensor<D>;
  }

  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D> {
    if (rows.length === 0) throw new ShapeError('gather', 'no rows to gather');
    const first = this.dev(rows[0]!.tensor);
    const rowBytes = (first.size / first.shape[0]!) * 4;
    const out = this.rec.scratch(rows.length * rowBytes, 'gather', false, first.dtype, [rows.length, ...first.shape.slice(1)]);
    rows.forEach(({ tensor, row }, i) => {
      const t = this.dev(tensor);
      if ((t.size / t.shape[0]!) * 4 !== rowBytes || t.dtype !== first.dtype)
        throw new ShapeError('gather', `row ${i} is from a tensor of another row size or dtype`);
      if (!(row >= 0 && row < t.shape[0]!)) throw new ShapeError('gather', `row ${row} is outside 0..${t.shape[0]! - 1}`);
      this.rec.copy(t, row * rowBytes, out, i * rowBytes, rowBytes);
    });
    return out as DeviceTensor<D>;
  }

  /**
   * A buffer made elsewhere on this device (an ONNX Runtime output) as a tensor of this stream,
   * without a copy; `dispose` lets it go once the stream ends and its commands are submitted.
   */
  adoptBuffer(buffer: GPUBuffer, shape: readonly number[], dispose: () => void): T<'f32'> {
    const t = new DeviceTensor(this.runtime, { buffer, bytes: elementCount(shape) * 4 }, 'f32', shape, 'adopted', dispose);
    return this.rec.adopt(t) as DeviceTensor<'f32'>;
  }

  async randomWalker(image: T<'f32'>, seeds: T<'mask'>, prior: T<'f32'>, s: ImageShape, o: RandomWalkerOptions): Promise<T<'f32'>> {
    if (this.speculative) {
      // The first chunk only, its flags read with the next submission (see GpuStreamOptions).
      const solve = await solveRandomWalker(this.rec, this.dev(image), this.dev(seeds), this.dev(prior), s, o, RANDOM_WALKER_CHECKS, 'ahead');
      this.checks.push(solve.flags!);
      return this.rec.adopt(solve.probability) as DeviceTensor<'f32'>;
    }
    const solve = await solveRandomWalker(this.rec, this.dev(image), this.dev(seeds), this.dev(prior), s, o);
    return this.rec.adopt(solve.probability) as DeviceTensor<'f32'>;
  }
}

// ------------------------------------------------------------------------------------------
// CPU

const cpuResident = new WeakMap<object, Map<string, Tensor>>();

/** The CPU references behind the same interface: every call computes at once. */
export class CpuStream implements TensorStream {
  readonly path = 'cpu' as const;
  readonly maxTensorBytes = Infinity;
  /** Milliseconds per stage, when timing is on (the benchmark's split). */
  readonly stageMs = new Map<string, number>();
  private current = '';

  constructor(private readonly timing = false) {}

  stage(name: string): void {
    this.current = name;
  }

  private h<D extends DType>(t: T<D>): HostArrayOf[D] {
    if (!(t instanceof HostTensor)) throw new TypeError('a CPU stream takes host tensors');
    return t.data as HostArrayOf[D];
  }

  private time<R>(f: () => R): R {
    if (!this.timing) return f();
    const t0 = performance.now();
    try {
      return f();
    } finally {
      this.stageMs.set(this.current, (this.stageMs.get(this.current) ?? 0) + performance.now() - t0);
    }
  }

  private t<D extends DType>(dtype: D, shape: readonly number[], data: HostArrayOf[D]): T<D> {
    return new HostTensor(dtype, shape, data);
  }

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  upload(data: Float32Array | Uint32Array | Uint8Array, shape: readonly number[]): T {
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Uint32Array ? 'u32' : 'mask';
    return new HostTensor(dtype, shape, data);
  }

  async read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]> {
    return this.h(tensor);
  }

  async readMask(tensor: T<'mask'>): Promise<Uint8Array> {
    return this.h(tensor).map((v) => (v ? 1 : 0));
  }

  async sync(): Promise<void> {}

  settled(): boolean {
    return true;
  }

  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D>): T<D> {
    const map = storeOf(owner, cpuResident);
    let t = map.get(key) as HostTensor<D> | undefined;
    if (!t) map.set(key, (t = make()));
    return t;
  }

  releaseResident(owner: object): void {
    cpuResident.delete(owner);
  }

  keep<D extends DType>(tensor: T<D>): T<D> {
    return tensor;
  }

  release(): void {}
  end(): void {}

  prototype(feats: T<'f32'>, masks: T<'mask'>, s: FeatureShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.C], prototypeReference(this.h(feats), this.h(masks), s)));
  }

  confidence(feats: T<'f32'>, protos: T<'f32'>, s: FeatureShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.N], confidenceReference(this.h(feats), this.h(protos), s)));
  }

  confidenceNaive(query: T<'f32'>, support: T<'f32'>, supportMask: Uint8Array, s: FeatureShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.N], confidenceNaiveReference(this.h(query), this.h(support), supportMask, s)));
  }

  synergy(a: T<'f32'>, b: T<'f32'>, w: SynergyWeights): T<'f32'> {
    return this.time(() => this.t('f32', a.shape, synergyReference(this.h(a), this.h(b), w)));
  }

  upsampleBilinear(maps: T<'f32'>, s: ResizeShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.outH * s.outW], upsampleBilinearReference(this.h(maps), s)));
  }

  downsampleMask(masks: T<'mask'>, s: ResizeShape): T<'mask'> {
    return this.time(() => this.t('mask', [s.B, s.outH * s.outW], downsampleMaskReference(this.h(masks), s)));
  }

  moments(values: T<'f32'>, mask: T<'mask'> | null, s: RowsShape, invert = false): T<'f32'> {
    return this.time(() => {
      const m = mask ? (invert ? this.h(mask).map((v) => (v ? 0 : 1)) : this.h(mask)) : null;
      const stats = momentsReference(this.h(values), m, s);
      return this.t('f32', [s.B, 3], Float32Array.from(stats.flatMap((r) => [r.count, r.mean, r.std])));
    });
  }

  band(values: T<'f32'>, bounds: T<'f32'>, s: RowsShape): { indices: T<'u32'>; counts: T<'u32'> } {
    return this.time(() => {
      const b = this.h(bounds);
      const rows = bandReference(
        this.h(values),
        Array.from({ length: s.B }, (_, r) => [b[2 * r]!, b[2 * r + 1]!] as [number, number]),
        s,
      );
      const indices = new Uint32Array(s.B * s.N);
      rows.forEach((row, r) => indices.set(row, r * s.N));
      return {
        indices: this.t('u32', [s.B, s.N], indices),
        counts: this.t(
          'u32',
          [s.B],
          Uint32Array.from(rows, (r) => r.length),
        ),
      };
    });
  }

  topk(values: T<'f32'>, s: RowsShape, k: number): { values: T<'f32'>; indices: T<'u32'> } {
    return this.time(() => {
      const rows = topkReference(this.h(values), s, k);
      const vals = new Float32Array(s.B * k);
      const idx = new Uint32Array(s.B * k);
      rows.forEach((r, b) => {
        vals.set(r.values, b * k);
        idx.set(r.indices, b * k);
      });
      return { values: this.t('f32', [s.B, k], vals), indices: this.t('u32', [s.B, k], idx) };
    });
  }

  sampleRows(indices: T<'u32'>, counts: T<'u32'>, s: { B: number; n: number; m: number }, draws: T<'u32'>): { indices: T<'u32'>; counts: T<'u32'> } {
    return this.time(() => {
      const r = sampleRowsReference(this.h(indices), this.h(counts), s.B, s.n, s.m, this.h(draws));
      return { indices: this.t('u32', [s.B, s.n], r.sampled), counts: this.t('u32', [s.B], r.counts) };
    });
  }

  cellPoints(indices: T<'u32'>, counts: T<'u32'> | null, s: { B: number; n: number; G: number }): { points: T<'f32'>; counts: T<'u32'> } {
    return this.time(() => {
      const r = cellPointsReference(this.h(indices), counts ? this.h(counts) : null, s.B, s.n, s.G);
      return { points: this.t('f32', [s.B, s.n, 2], r.points), counts: this.t('u32', [s.B], r.counts) };
    });
  }

  kmeans(
    points: T<'f32'>,
    counts: T<'u32'>,
    s: { B: number; n: number; k: number },
    draws: T<'u32'>,
    maxIterations: number,
  ): { centroids: T<'f32'>; sizes: T<'u32'> } {
    return this.time(() => {
      const p = this.h(points);
      const c = this.h(counts);
      const d = this.h(draws);
      const centroids = new Float32Array(s.B * s.k * 2);
      const sizes = new Uint32Array(s.B * s.k);
      for (let b = 0; b < s.B; b++) {
        const n = c[b]!;
        if (n === 0) continue;
        const row = p.subarray(b * s.n * 2, (b * s.n + n) * 2);
        const seeds = kmeansPlusPlusFromDraws(row, s.k, d.subarray(b * s.k, (b + 1) * s.k));
        // The kernel's layout: one slot per seeded centre, size 0 for a dropped one.
        const r = lloydReference(row, seeds, maxIterations);
        for (let slot = 0; slot < seeds.length / 2; slot++) {
          centroids[(b * s.k + slot) * 2] = r.centroids[2 * slot]!;
          centroids[(b * s.k + slot) * 2 + 1] = r.centroids[2 * slot + 1]!;
        }
        for (const a of r.assign) sizes[b * s.k + a]!++;
      }
      return { centroids: this.t('f32', [s.B, s.k, 2], centroids), sizes: this.t('u32', [s.B, s.k], sizes) };
    });
  }

  morphology(masks: T<'mask'>, s: ImageShape, op: MorphologyOp, element: StructuringElement): T<'mask'> {
    return this.time(() => this.t('mask', [s.B, s.H * s.W], morphologyReference(this.h(masks), s, op, element)));
  }

  bestComponent(masks: T<'mask'>, values: T<'f32'>, s: ImageShape, connectivity: Connectivity): { mask: T<'mask'>; found: T<'u32'> } {
    return this.time(() => {
      const components = componentsReference(this.h(masks), this.h(values), s, connectivity);
      const r = bestComponentMaskReference(components, s.H * s.W);
      const found = Uint32Array.from(components, (c, b) => (r.found[b] ? c.components.reduce((a, x) => (x.mean > a.mean ? x : a)).first : NO_COMPONENT));
      return { mask: this.t('mask', [s.B, s.H * s.W], r.masks), found: this.t('u32', [s.B], found) };
    });
  }

  keepRows(masks: T<'mask'>, found: T<'u32'>, s: { B: number; P: number }): T<'mask'> {
    return this.time(() => this.t('mask', [s.B, s.P], keepRowsReference(this.h(masks), this.h(found), s.P)));
  }

  threshold(values: T<'f32'>, t: number): T<'mask'> {
    return this.time(() => this.t('mask', values.shape, thresholdReference(this.h(values), t)));
  }

  poolMask(masks: T<'mask'>, s: GuideShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.G * s.G], poolMaskReference(this.h(masks), s)));
  }

  promptRows(
    pos: { centroids: T<'f32'>; sizes: T<'u32'> },
    neg: { centroids: T<'f32'>; sizes: T<'u32'> } | null,
    extents: T<'f32'> | null,
    s: PromptRowsShape,
    o: PromptRowsOptions,
  ): T<'f32'> {
    return this.time(() =>
      this.t(
        'f32',
        [s.B, 1 + s.Kn + s.Kp, 4],
        promptRowsReference(this.h(pos.centroids), this.h(pos.sizes), neg && this.h(neg.centroids), neg && this.h(neg.sizes), extents && this.h(extents), s, o),
      ),
    );
  }

  guidePenalty(maps: T<'f32'>, guide: T<'f32'>, s: { B: number; N: number }, w: number): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.N], guidePenaltyReference(this.h(maps), this.h(guide), s.B, s.N, w)));
  }

  areaThreshold(values: T<'f32'>, targets: T<'f32'>, s: { B: number; P: number }, o: AreaThresholdOptions): T<'mask'> {
    return this.time(() => this.t('mask', [s.B, s.P], areaThresholdReference(this.h(values), this.h(targets), s.B, s.P, o)));
  }

  gaussian(maps: T<'f32'>, s: ImageShape, sigma: number): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.H * s.W], gaussianReference(this.h(maps), s, sigma)));
  }

  appearance(slices: T<'f32'>, s: ImageShape, spec: AppearanceSpec): T<'f32'> {
    const cells = (s.H / spec.pool) * (s.W / spec.pool);
    return this.time(() => this.t('f32', [s.B, 2 * spec.sigmas.length, cells], appearanceReference(this.h(slices), s, spec)));
  }

  stackPosition(appearance: T<'f32'>, position: T<'f32'>, s: FeatureShape, Cp: number, weight: number): T<'f32'> {
    return this.time(() => {
      const a = this.h(appearance);
      const pos = this.h(position);
      const C = s.C + Cp;
      const out = new Float32Array(s.B * C * s.N);
      for (let b = 0; b < s.B; b++) {
        const o = b * C * s.N;
        const src = a.subarray(b * s.C * s.N, (b + 1) * s.C * s.N);
        for (let i = 0; i < src.length; i++) out[o + i] = src[i]! * weight;
        out.set(pos, o + s.C * s.N);
      }
      return this.t('f32', [s.B, C, s.N], out);
    });
  }

  prior(maps: T<'f32'>, top: T<'f32'>, s: { B: number; P: number }, mus: T<'f32'>, sharpness: number): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.P], priorReference(this.h(maps), this.h(top), s.B, s.P, this.h(mus), sharpness)));
  }

  decoderInputs(
    image: T<'f32'>,
    prior: T<'f32'> | null,
    maskPrompt: T<'mask'> | null,
    prompts: T<'f32'>,
    s: ImageShape,
    P: number,
    o: DecoderInputOptions,
  ): { image: T<'f32'>; prior: T<'f32'>; seeds: T<'mask'> } {
    return this.time(() => {
      const small = shrinkInputsReference(this.h(image), prior ? this.h(prior) : null, maskPrompt ? this.h(maskPrompt) : null, s, o);
      const seeds = seedMapReference(small.prior, this.h(prompts), s, P, o, Boolean(prior || maskPrompt));
      const plane = (s.H / o.factor) * (s.W / o.factor);
      return { image: this.t('f32', [s.B, plane], small.image), prior: this.t('f32', [s.B, plane], small.prior), seeds: this.t('mask', [s.B, plane], seeds) };
    });
  }

  tokensToGrid(tokens: T<'f32'>, s: TokenShape): T<'f32'> {
    return this.time(() => this.t('f32', [s.B, s.C, s.cells], tokensToGridReference(this.h(tokens), s)));
  }

  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'> {
    const out = new Float32Array(elementCount(shape));
    let offset = 0;
    for (const part of parts) {
      out.set(this.h(part), offset);
      offset += this.h(part).length;
    }
    if (offset !== out.length) throw new ShapeError('concat', `the parts hold ${offset} values, the shape [${shape.join(', ')}] ${out.length}`);
    return this.t('f32', shape, out);
  }

  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D> {
    const data = this.h(tensor);
    const row = data.length / tensor.shape[0]!;
    const out = new (data.constructor as new (n: number) => HostArrayOf[D])(rows.length * row);
    rows.forEach((r, i) => {
      if (!(r >= 0 && r < tensor.shape[0]!)) throw new ShapeError('take', `row ${r} is outside 0..${tensor.shape[0]! - 1}`);
      out.set(data.subarray(r * row, (r + 1) * row) as never, i * row);
    });
    return this.t(tensor.dtype, [rows.length, ...tensor.shape.slice(1)], out);
  }

  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D> {
    if (rows.length === 0) throw new ShapeError('gather', 'no rows to gather');
    const first = rows[0]!.tensor;
    const size = this.h(first).length / first.shape[0]!;
    const out = new (this.h(first).constructor as new (n: number) => HostArrayOf[D])(rows.length * size);
    rows.forEach(({ tensor, row }, i) => {
      const data = this.h(tensor);
      if (data.length / tensor.shape[0]! !== size || tensor.dtype !== first.dtype)
        throw new ShapeError('gather', `row ${i} is from a tensor of another row size or dtype`);
      if (!(row >= 0 && row < tensor.shape[0]!)) throw new ShapeError('gather', `row ${row} is outside 0..${tensor.shape[0]! - 1}`);
      out.set(data.subarray(row * size, (row + 1) * size) as never, i * size);
    });
    return this.t(first.dtype, [rows.length, ...first.shape.slice(1)], out);
  }

  async randomWalker(image: T<'f32'>, seeds: T<'mask'>, prior: T<'f32'>, s: ImageShape, o: RandomWalkerOptions): Promise<T<'f32'>> {
    return this.time(() => this.t('f32', [s.B, s.H * s.W], randomWalkerReference(this.h(image), this.h(seeds), this.h(prior), s, o).probability));
  }
}
