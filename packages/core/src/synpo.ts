/**
 * SynPo on 2-D slices: CMSM (confidence maps of both encoders, Hadamard synergy, Gaussian model
 * of the negatives), PSM (positive points from the top of the fused map, negative points from
 * the band [μ − α·σ, μ − β·σ]), the decoder, and NRM (opening, best component by confidence,
 * a second decoder pass with the mask prompt, opening and best component again).
 *
 * Each batch is one chain of kernels on one tensor stream, written once for both paths. A batch
 * is a set of rows, each a query slice against one support, so several organs (and both
 * directions of the propagation pass) share its dispatches. On the GPU it stays on the device:
 * the volume goes up once, as the file's own integers, and its slices are prepared there and
 * stay while it is segmented (where the caller gives the voxels), each slice is encoded once
 * (a device cache of encodings, bounded in bytes), PSM's points become the decoder's prompts on
 * the device, the random walker's convergence flags come back with the batch's one readback (a
 * speculative stream; a batch whose solve needed longer runs again, checked), and what comes
 * back is the masks as bits, the points, and what was asked for (`detail`). The same code runs
 * on the CPU references.
 */
import { createRng, DeviceTensor, HostTensor, ShapeError, type Kernels, type T, type Tensor, type TensorStream } from '@synpo/gpu';
import {
  band,
  bestComponent,
  cellPoints,
  confidence,
  downsampleMask,
  drawIntegers,
  gaussian,
  guidePenalty,
  keepRows,
  KMEANS_DEFAULT_MAX_ITERATIONS,
  kmeans,
  moments,
  morphology,
  packVoxels,
  poolMask,
  prepareSlices,
  prior as priorKernel,
  prototype,
  sampleRows,
  synergy,
  topk,
  upsampleBilinear,
} from '@synpo/gpu/kernels';
import { CELLS, GRID, PIXELS, ROI, type Backend, type OrganExtent, type PointClusters, type PromptPoint, type SliceBatch } from './backend.ts';
import { ATLAS_CELL_PIXELS, ATLAS_CELLS, ATLAS_GRID } from './atlas.ts';
import { cellRuns, sharedCells } from './overlap.ts';
import { anchorCandidates, propagateJobs, type MaskSource, type OwnMask, type PropagationSteps } from './propagate.ts';
import { ByteLru } from './cache.ts';
import type { VolumeVoxels } from './preprocess.ts';
import { resolveOptions, type SynpoOptions, type SynpoOptionsInput } from './options.ts';

/** A support: one ROI slice in [0, 1] and its organ mask. */
export interface Support {
  image: Float32Array;
  mask: Uint8Array;
}

/** What CMSM derives from a support once, for any number of queries. */
export interface SupportEncoding {
  image: Float32Array;
  maskGrid: Uint8Array;
  /** The prototypes; on the GPU path they also stay on the device for the support's lifetime. */
  protoSam: Float32Array;
  protoDino: Float32Array;
  /** Fused confidence of the support's own background cells (one value per background cell). */
  synNeg: Float32Array;
  mu: number;
  sigma: number;
  /** The support organ's bounding-box size and area in ROI pixels. */
  extent: OrganExtent;
  /** The support's feature grids, kept only when asked for (`detail`: the `--dump` files). */
  featSam?: Float32Array;
  featDino?: Float32Array;
}

/** What SynPo computed for one query slice beyond its points and mask (read back on request). */
export interface SliceDetail {
  featSam: Float32Array;
  featDino: Float32Array;
  confSam: Float32Array;
  confDino: Float32Array;
  synmap: Float32Array;
  coarse: Uint8Array;
}

/** Everything SynPo computed for one query slice (the `--dump` files are made from this). */
export interface SliceResult extends Partial<SliceDetail> {
  positives: PromptPoint[];
  negatives: PromptPoint[];
  final: Uint8Array;
}

/** A query slice's name: it seeds the slice's random choices and may key an encoding cache. */
export interface SliceName {
  seed: number;
  key?: string;
}

/** One support and the query slices (indices into the batch given, rising) it segments. */
export interface SegmentJob {
  support: SupportEncoding;
  slices: readonly number[];
  /**
   * The organ the job's slices belong to (the propagation pass runs over an organ's slices, the
   * union of its jobs: one per third of its range); default: the job's own index.
   */
  organ?: number;
  /**
   * One anatomical prior per slice of `slices` (AtlasOptions; atlas.ts): the fraction of each
   * ATLAS_GRID² cell the support's organ covers once carried onto that query slice.
   */
  atlas?: readonly Float32Array[];
  /**
   * Where the position encoder's cue goes (AtlasOptions.position): an ATLAS_GRID² map, by default
   * the sum of `atlas`. A slice cut from a volume passes the sum over its third's slices there,
   * so its prototype is placed as the whole-volume run places it.
   */
  placement?: Float32Array;
}

export interface SegmentJobsOptions extends Omit<SegmentOptions, 'onBatch'> {
  /**
   * Called in order as each batch of the per-slice pass finishes: per job, its results among the
   * batch's slices. With `propagate` it is called only when `detail` is asked (the dumps), and its
   * masks are the per-slice pass's; the masks returned are the propagated ones.
   */
  onBatch?(first: number, perJob: SliceResult[][]): Promise<void> | void;
  /**
   * The propagation pass (PropagationOptions) over each organ's slices after the per-slice pass:
   * the returned `final` masks are then the propagated ones (the points and `detail` stay the
   * per-slice pass's). Slices of an organ must be consecutive indices to propagate across.
   */
  propagate?: boolean;
  /** Organ-slices done of the total, with what is being done. */
  progress?(done: number, total: number, label: string): void;
  /**
   * Read of a row's fused confidence (`synmap`) only the cells combineOrgans needs: those under
   * the pixels where final masks of two organs (jobs' `organ`) meet, for the organs that claim
   * them (the rest of such a `synmap` is 0). The other rows' maps never leave the device.
   */
  overlapConfidence?: boolean;
  /**
   * The query slices as the file's canonical voxels (PreparedVolume.voxels of these slices): the
   * GPU path uploads these, packed as the file's own integers (half or a quarter of the float32
   * slices' bytes), and prepares the slices on the device (prepare.wgsl) instead of uploading
   * `queries`; the host's slices still serve the CPU path and the ONNX encoders.
   */
  voxels?: VolumeVoxels;
}

export interface SegmentOptions {
  /**
   * Read back the intermediates (features, confidences, synergy map, coarse mask): all of them,
   * or the ones named. Off by default: on the GPU only the points and the final masks come back.
   */
  detail?: boolean | readonly (keyof SliceDetail)[];
  /** Called in order as each batch finishes, with the index of its first slice (progress, dumps). */
  onBatch?(first: number, results: SliceResult[]): Promise<void> | void;
  /**
   * One ROI mask per query slice (all or none): a neighbouring slice's mask that guides this one
   * (what the propagation pass does; see PropagationOptions).
   */
  guides?: readonly Uint8Array[];
}

/** Largest batch the automatic choice makes; more buys no speed and costs device memory. */
const MAX_AUTO_BATCH = 32;
/** Device bytes per row of a batch besides the feature grids (decoder vectors, components), roughly. */
const DEVICE_BYTES_PER_ROW = 1 << 20;
/** A mask's area is read as the fractions of AREA_GRID² cells (exact: each is k / cell pixels). */
const AREA_GRID = 4;

/** A query volume being segmented: [nz][ROI·ROI] slices; on the GPU they are made there once and stay while it is. */
export interface QueryVolume {
  slices: Float32Array;
  nz: number;
  /** The same slices as the file's voxels (SegmentJobsOptions.voxels). */
  voxels?: VolumeVoxels;
}

/** One slice's encodings on the host: [channels][CELLS] of each encoder. */
export interface HostEncoding {
  sam: Float32Array;
  dino: Float32Array;
}

/** Some slices of a volume on a stream, encoded: row b of every tensor is slice b. */
interface EncodedSlices {
  B: number;
  images: SliceBatch;
  sam: T<'f32'>;
  dino: T<'f32'>;
  /** Each row's random-choice seed. */
  seeds: number[];
}

/** Rows of a batch that share a support: indices into the batch's encoded slices. */
interface RowGroup {
  support: SupportEncoding;
  slices: readonly number[];
  /** Each row's atlas ([CELLS]), where its job has one. */
  atlas?: readonly Float32Array[];
}

/** What the post-encoder stages leave on the stream for R rows (the groups' rows, in order). */
interface RowOutputs {
  R: number;
  /** Row → encoded slice. */
  slices: number[];
  final: T<'mask'>;
  synmap: T<'f32'>;
  confSam?: T<'f32'>;
  confDino?: T<'f32'>;
  coarse: T<'mask'>;
  positives: PointClusters;
  negatives: PointClusters | null;
}

/** A row's results on the host: points and what was asked for; `final` once read. */
type RowResult = Omit<SliceResult, 'final'> & { final?: Uint8Array };

/**
 * One row of a propagation step: a slice, the support it is segmented against, its neighbour's
 * mask (none: the slice is segmented on its own, as the per-slice pass would), and the per-slice
 * mask of the slice after it in its chain (`next`: the step measures how much its new mask
 * overlaps that one, for PropagationOptions.agreement).
 */
export interface PropagationRow {
  z: number;
  support: SupportEncoding;
  guide?: MaskSource;
  next?: MaskSource;
  /** Whether its prompt points come back (a slice the per-slice pass did not segment reports the pass's). */
  report?: boolean;
  atlas?: Float32Array;
}

/** One volume's part of a propagation step. */
export interface PropagationStepRequest {
  synpo: Synpo;
  volume: QueryVolume;
  rows: readonly PropagationRow[];
  names: readonly SliceName[];
  /** Whether each row's fused confidence is kept on the stream too (for overlapConfidence). */
  synmaps: boolean;
}

/**
 * A step's new masks on the stream (kept: the caller releases `kept`), with their areas and
 * prompt points (and fused confidences, when asked for), one per row in order.
 */
export interface PropagationStepOut {
  masks: MaskSource[];
  areas: number[];
  /** Per row, its prompt points where it asked for them (`report`). */
  points: ({ positives: PromptPoint[]; negatives: PromptPoint[] } | undefined)[];
  synmaps?: { tensor: T<'f32'>; row: number }[];
  /** Per row, the pixels its new mask shares with its `next` (0 for a row without one). */
  overlaps: number[];
  kept: Tensor[];
}

/** The sum of atlas maps, in order (where a job's position cue goes: SegmentJob.placement). */
export function atlasSum(maps: readonly Float32Array[]): Float32Array {
  const sum = new Float32Array(ATLAS_CELLS);
  for (const map of maps) for (let c = 0; c < ATLAS_CELLS; c++) sum[c] = sum[c]! + map[c]!;
  return sum;
}

/** Encoded slices of several volumes as one batch, in order. */
function joinEncoded(s: TensorStream, encs: readonly EncodedSlices[]): EncodedSlices {
  const B = encs.reduce((n, e) => n + e.B, 0);
  const host = new Float32Array(B * PIXELS);
  let at = 0;
  for (const e of encs) {
    host.set(e.images.host, at);
    at += e.images.host.length;
  }
  const rows = (t: T<'f32'>) => t.shape.slice(1);
  return {
    B,
    images: {
      host,
      tensor: s.concat(
        encs.map((e) => e.images.tensor),
        [B, PIXELS],
      ),
    },
    sam: s.concat(
      encs.map((e) => e.sam),
      [B, ...rows(encs[0]!.sam)],
    ),
    dino: s.concat(
      encs.map((e) => e.dino),
      [B, ...rows(encs[0]!.dino)],
    ),
    seeds: encs.flatMap((e) => e.seeds),
  };
}

const releaseTensor = (t: Tensor) => {
  if (t instanceof DeviceTensor) t.release();
};

export class Synpo {
  readonly options: SynpoOptions;
  /** Query slices encoded so far and the wall time it took (what sharing encodings saves). */
  readonly encoded = { slices: 0, ms: 0 };
  /**
   * Speculative chains so far (GPU) and how many had to run again checked (a random-walker
   * solve that needed more iterations than were recorded ahead).
   */
  readonly speculation = { chains: 0, rerun: 0 };
  /** Slices segmented by the propagation pass so far, and its steps. */
  readonly propagation = { slices: 0, steps: 0 };
  /** Organ-slices of volumes segmented on their own so far (the per-slice pass, before any propagation). */
  readonly perSlice = { slices: 0 };
  /**
   * Where this Synpo's propagation steps go to join other volumes' (PropagationSteps, shared by
   * the Synpos of a batch); null: each step is a chain of its own.
   */
  steps: PropagationSteps | null = null;
  /** Encodings kept for reuse on the CPU path (one slice is queried for every organ and pass). */
  readonly encodings: ByteLru<HostEncoding>;
  /** The same on the GPU path, in device memory: a slice's grids stay there for every organ and pass. */
  readonly deviceEncodings: ByteLru<{ sam: DeviceTensor<'f32'>; dino: DeviceTensor<'f32'> }>;

  constructor(
    readonly backend: Backend,
    readonly kernels: Kernels,
    options: SynpoOptionsInput = {},
  ) {
    this.options = resolveOptions(options);
    this.encodings = new ByteLru(this.options.cacheBytes, (e) => e.sam.byteLength + e.dino.byteLength);
    this.deviceEncodings = new ByteLru(
      this.options.cacheBytes,
      (e) => (e.sam.size + e.dino.size) * 4,
      (e) => {
        e.sam.release();
        e.dino.release();
      },
    );
  }

  /**
   * Query slices per batch: the option, or on 'auto' as many as the device's largest binding
   * holds of the biggest per-batch tensor (the feature grids), up to 32; 8 on the CPU.
   */
  get batchSize(): number {
    if (this.options.batchSize !== 'auto') return this.options.batchSize;
    if (this.kernels.path === 'cpu') return 8;
    const perSlice = Math.max(this.backend.sam.channels, this.backend.dino.channels) * CELLS * 4 + DEVICE_BYTES_PER_ROW;
    return Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(this.kernels.maxTensorBytes / perSlice)));
  }

  /** Rows (slice × support) one post-encoder pass takes at most: what one binding holds of a row's decoder tensors. */
  private get maxRows(): number {
    return Math.max(1, Math.floor(this.kernels.maxTensorBytes / DEVICE_BYTES_PER_ROW));
  }

  /** Lets go of the kept encodings of these keys (host and device): a volume that is done. */
  forgetEncodings(keys: Iterable<string>): void {
    for (const k of keys) {
      this.encodings.delete(k);
      this.deviceEncodings.delete(k);
    }
  }

  /**
   * Both encodings of query slices `zs` of a volume, read to the host, in batches: the CPU path's
   * threads each encode a share of a volume's slices and pass them on (segmentOrgans' `encodings`).
   * A slice's encodings do not depend on the slices it is batched with.
   */
  async encodeToHost(volume: QueryVolume, zs: readonly number[]): Promise<HostEncoding[]> {
    const out: HostEncoding[] = [];
    for (let i = 0; i < zs.length; i += this.batchSize) {
      const part = zs.slice(i, i + this.batchSize);
      const t0 = performance.now();
      const encodings = await this.kernels.chain('encode', async (s) => {
        s.stage('encoders');
        const host = rowsOf(volume.slices, part);
        return this.hostEncodings(s, await this.encodeOn(s, { host, tensor: s.upload(host, [part.length, PIXELS]) }, part.length), part.length);
      });
      this.encoded.ms += performance.now() - t0;
      this.encoded.slices += part.length;
      out.push(...encodings);
    }
    return out;
  }

  private async encodeOn(s: TensorStream, slices: SliceBatch, B: number): Promise<{ sam: T<'f32'>; dino: T<'f32'> }> {
    const sam = await this.backend.sam.encode(slices, B, s);
    const dino = await this.backend.dino.encode(slices, B, s);
    return { sam, dino };
  }

  /**
   * Runs a chain on a speculative stream (GPU: random-walker solves recorded ahead of their
   * checks, one submission for the whole chain); `run` returns null when the stream did not
   * settle, and the chain runs again on a checked stream. Results are the same either way.
   */
  private async speculate<R>(label: string, run: (s: TensorStream) => Promise<R | null>): Promise<R> {
    if (this.kernels.path === 'gpu') {
      this.speculation.chains++;
      const r = await this.kernels.chain(label, run, { speculative: true });
      if (r !== null) return r;
      this.speculation.rerun++;
    }
    const r = await this.kernels.chain(label, run);
    if (r === null) throw new Error(`${label}: a checked stream did not settle`);
    return r;
  }

  /** CMSM's support side: the grid mask, both prototypes, the negatives' μ and σ. */
  async prepareSupport(support: Support, options: SegmentOptions = {}): Promise<SupportEncoding> {
    if (support.image.length !== PIXELS || support.mask.length !== PIXELS) {
      throw new ShapeError('synpo', `a support is a ${ROI}×${ROI} slice with a mask of the same size`);
    }
    if (!support.mask.some((v) => v !== 0)) throw new ShapeError('synpo', 'the support mask is empty: the organ is not in the support slice');
    const Cs = this.backend.sam.channels;
    const Cd = this.backend.dino.channels;
    return this.kernels.chain('support', async (s) => {
      s.stage('encoders');
      const slices = { host: support.image, tensor: s.upload(support.image, [1, PIXELS]) };
      const masks = s.upload(
        Uint8Array.from(support.mask, (v) => (v ? 1 : 0)),
        [1, PIXELS],
      );
      const maskGrid = s.run(downsampleMask, { masks }, { B: 1, inH: ROI, inW: ROI, outH: GRID, outW: GRID });
      const { sam, dino } = await this.encodeOn(s, slices, 1);
      s.stage('confidence');
      const protoSam = s.run(prototype, { features: sam, masks: maskGrid }, { B: 1, C: Cs, N: CELLS });
      const protoDino = s.run(prototype, { features: dino, masks: maskGrid }, { B: 1, C: Cd, N: CELLS });
      const fusedAll = this.fuse(
        s,
        s.run(confidence, { features: sam, prototypes: protoSam }, { B: 1, C: Cs, N: CELLS }),
        s.run(confidence, { features: dino, prototypes: protoDino }, { B: 1, C: Cd, N: CELLS }),
      );
      // The Gaussian model of the negatives: the fused map where the support's mask is not set.
      const stats = s.run(moments, { values: fusedAll, mask: maskGrid }, { B: 1, N: CELLS, invert: true });
      const [grid, ps, pd, fused, st, featSam, featDino] = await Promise.all([
        s.read(maskGrid),
        s.read(protoSam),
        s.read(protoDino),
        s.read(fusedAll),
        s.read(stats),
        options.detail ? s.read(sam) : null,
        options.detail ? s.read(dino) : null,
      ]);
      return {
        image: support.image,
        maskGrid: grid.slice(),
        protoSam: ps.slice(),
        protoDino: pd.slice(),
        synNeg: fused.filter((_, i) => grid[i] === 0),
        mu: st[1]!,
        sigma: st[2]!,
        extent: extentOf(support.mask),
        ...(featSam && { featSam: featSam.slice() }),
        ...(featDino && { featDino: featDino.slice() }),
      };
    });
  }

  /** Frees what a support keeps on the device (its prototypes); it can still be used after. */
  async releaseSupport(support: SupportEncoding): Promise<void> {
    await this.kernels.chain('release', async (s) => s.releaseResident(support));
  }

  /** The Hadamard synergy, or one encoder's map alone (ablation). */
  private fuse(s: TensorStream, sam: T<'f32'>, dino: T<'f32'>): T<'f32'> {
    if (this.options.encoders === 'sam') return sam;
    if (this.options.encoders === 'dino') return dino;
    return s.run(synergy, { a: sam, b: dino }, this.options.synergy);
  }

  /**
   * Runs SynPo on B query slices ([B][ROI·ROI], in [0, 1]) against one prepared support.
   * `slices` names each query slice: it seeds that slice's random choices (so a slice gets the
   * same points and mask whatever batch it is in) and, when given, keys the encoding caches, so a
   * slice queried again (for another organ) is not encoded twice. On the GPU path the next batch
   * is recorded and uploaded while the previous one computes.
   */
  async segment(
    support: SupportEncoding,
    queries: Float32Array,
    B: number,
    slices: readonly SliceName[] = [],
    options: SegmentOptions = {},
  ): Promise<SliceResult[]> {
    const all = Array.from({ length: B }, (_, i) => i);
    const { onBatch, ...rest } = options;
    const [results] = await this.segmentJobs(queries, B, [{ support, slices: all }], slices, {
      ...rest,
      ...(onBatch && { onBatch: (first: number, perJob: SliceResult[][]) => onBatch(first, perJob[0]!) }),
    });
    return results!;
  }

  /**
   * SynPo for several supports on one set of query slices (several organs of one scan): each
   * query slice is encoded once, and every job runs CMSM, PSM, the decoder and NRM on the shared
   * features of its own slices, all jobs' rows in the same dispatches. With `propagate`, the
   * propagation pass follows (propagate.ts). Results come per job, in the order of its `slices`.
   */
  async segmentJobs(
    queries: Float32Array,
    B: number,
    jobs: readonly SegmentJob[],
    slices: readonly SliceName[] = [],
    options: SegmentJobsOptions = {},
  ): Promise<SliceResult[][]> {
    if (queries.length !== B * PIXELS) throw new ShapeError('synpo', `${B} query slices need ${B * PIXELS} values, got ${queries.length}`);
    jobs.forEach((job, j) =>
      job.slices.forEach((i, k) => {
        if (!Number.isInteger(i) || i < 0 || i >= B || (k > 0 && i <= job.slices[k - 1]!))
          throw new ShapeError('synpo', `job ${j}: slice indices must rise within 0..${B - 1}, got ${job.slices.join(', ')}`);
      }),
    );
    jobs.forEach((job, j) => {
      if (job.placement && job.placement.length !== ATLAS_CELLS)
        throw new ShapeError('synpo', `job ${j}: placement needs one ${ATLAS_GRID}×${ATLAS_GRID} map, got ${job.placement.length} values`);
      if (job.atlas && (job.atlas.length !== job.slices.length || job.atlas.some((m) => m.length !== ATLAS_CELLS)))
        throw new ShapeError('synpo', `job ${j}: atlas needs one ${ATLAS_GRID}×${ATLAS_GRID} map per slice (${job.slices.length}), got ${job.atlas.length}`);
    });
    if (options.guides && (options.guides.length !== B || options.guides.some((g) => g.length !== PIXELS))) {
      throw new ShapeError('synpo', `guides: one ${ROI}×${ROI} mask per query slice (${B}), got ${options.guides.length}`);
    }
    if (options.guides && options.propagate) throw new ShapeError('synpo', 'guides and the propagation pass exclude each other: the pass makes its own guides');
    if (options.voxels && options.voxels.shape.nz !== B) throw new ShapeError('synpo', `voxels: ${options.voxels.shape.nz} slices given for ${B} query slices`);
    const volume: QueryVolume = { slices: queries, nz: B, ...(options.voxels && { voxels: options.voxels }) };
    const path = this.kernels.path;
    try {
      return await this.segmentVolume(
        volume,
        jobs,
        Array.from({ length: B }, (_, i) => slices[i] ?? { seed: i }),
        options,
      );
    } catch (error) {
      // A device lost mid-volume leaves tensors of the lost device behind: start again on the CPU.
      if (path === 'gpu' && this.kernels.path === 'cpu')
        return this.segmentVolume(
          volume,
          jobs,
          Array.from({ length: B }, (_, i) => slices[i] ?? { seed: i }),
          options,
        );
      throw error;
    }
  }

  private async segmentVolume(volume: QueryVolume, given: readonly SegmentJob[], names: SliceName[], options: SegmentJobsOptions): Promise<SliceResult[][]> {
    const { jobs, placed } = this.placeOnAtlas(given);
    const B = volume.nz;
    const propagating = Boolean(options.propagate && this.options.propagation.enabled);
    const readMasks = !propagating || Boolean(options.detail);
    // With propagation, the anchor is looked for among some slices (all where every slice's own
    // mask is compared), and the per-slice pass segments only those, unless every slice's
    // intermediates or per-batch results are asked for (the fused map alone comes from either
    // pass). The masks are the same either way: the pass segments a slice on its own as the
    // per-slice pass would.
    const { agreement, anchorStride } = this.options.propagation;
    const stride = propagating && agreement >= 1 ? anchorStride : 1;
    const candidates = anchorCandidates(jobs, stride);
    const everySlice = stride === 1 || Boolean(options.onBatch) || (Boolean(options.detail) && !synmapOnly(options.detail));
    // Each job's slices in the per-slice pass, as a job of its own, and where they sit in the job.
    const chosen = everySlice ? jobs.map((job) => job.slices.map(() => true)) : candidates;
    const firstJobs = jobs.map((job, j) => (everySlice ? job : onlySlices(job, chosen[j]!)));
    const firstAt = chosen.map((c) => c.flatMap((yes, k) => (yes ? [k] : [])));
    const size = this.batchSize;
    const depth = this.kernels.path === 'gpu' ? 2 : 1;
    const total = jobs.reduce((n, j) => n + j.slices.length, 0);
    const firstRows = firstJobs.reduce((n, j) => n + j.slices.length, 0);
    this.perSlice.slices += firstRows;
    const rows: (RowResult | undefined)[][] = jobs.map((job) => new Array(job.slices.length));
    // The per-slice pass's masks on the stream and their areas (the propagation pass starts from them).
    const firstPass: (OwnMask | undefined)[][] = jobs.map((job) => new Array(job.slices.length));
    const synmaps: { tensor: T<'f32'>; row: number }[][] = jobs.map((job) => new Array(job.slices.length));
    const keepSynmaps = Boolean(options.overlapConfidence) && !wantsSynmap(options.detail);
    const kept: Tensor[] = [];
    const filled = jobs.map(() => 0);
    let done = 0;
    const inFlight: { first: number; running: Promise<BatchOut> }[] = [];
    const collect = async ({ first, running }: (typeof inFlight)[number]) => {
      const out = await running;
      kept.push(...out.kept);
      out.perJob.forEach((r, j) => {
        r.forEach((row, i) => {
          const k = firstAt[j]![filled[j]! + i]!;
          rows[j]![k] = row;
          if (propagating) firstPass[j]![k] = out.masks[j]![i]!;
          if (keepSynmaps) synmaps[j]![k] = out.synmaps[j]![i]!;
        });
        filled[j]! += r.length;
      });
      if (readMasks) await options.onBatch?.(first, out.perJob as SliceResult[][]);
      done += out.perJob.reduce((n, r) => n + r.length, 0);
      options.progress?.(done, firstRows, 'per-slice pass');
    };
    try {
      for (let b0 = 0; b0 < B; b0 += size) {
        const nb = Math.min(size, B - b0);
        const local = firstJobs.map((job) => job.slices.filter((i) => i >= b0 && i < b0 + nb).map((i) => i - b0));
        if (local.every((r) => r.length === 0)) continue;
        const running = this.firstPassBatch(volume, b0, nb, firstJobs, local, names, { ...options, readMasks, keepMasks: propagating, keepSynmaps });
        running.catch(() => {}); // awaited below; a failure while an earlier batch is awaited must not go unhandled
        inFlight.push({ first: b0, running });
        if (inFlight.length >= depth) await collect(inFlight.shift()!);
      }
      for (const f of inFlight.splice(0)) await collect(f);
      if (propagating) {
        const wantMaps = !everySlice && (keepSynmaps || wantsSynmap(options.detail));
        const finals = await propagateJobs(this, volume, jobs, names, firstPass, {
          ...(options.progress && { progress: (step: number, steps: number) => options.progress!(total, total, `propagating, step ${step} of ${steps}`) }),
          kept,
          candidates,
          synmaps: wantMaps,
        });
        const masks = await this.readMasks(finals.flat().map((f) => f.mask));
        let i = 0;
        // A slice the per-slice pass did not segment reports the points and fused map of the
        // pass's segmentation; the others keep their per-slice pass's, as with every slice there.
        const unread: { j: number; k: number; map: { tensor: T<'f32'>; row: number } }[] = [];
        finals.forEach((list, j) =>
          list.forEach((f, k) => {
            const row = rows[j]![k];
            rows[j]![k] = { ...(row ?? f.points), final: masks[i++]! } as RowResult;
            if (row || !f.synmap) return;
            if (keepSynmaps) synmaps[j]![k] = f.synmap;
            else unread.push({ j, k, map: f.synmap });
          }),
        );
        if (unread.length > 0) {
          const maps = await this.readMaps(unread.map((u) => u.map));
          unread.forEach(({ j, k }, n) => (rows[j]![k]!.synmap = maps[n]!));
        }
      }
      if (keepSynmaps) await this.readOverlapConfidence(jobs, rows as SliceResult[][], synmaps);
      return rows as SliceResult[][];
    } finally {
      for (const f of inFlight)
        await f.running.then(
          (out) => kept.push(...out.kept),
          () => {},
        );
      for (const t of kept) releaseTensor(t);
      await this.kernels.chain('release', async (s) => {
        s.releaseResident(volume.slices);
        for (const support of placed) s.releaseResident(support);
      });
    }
  }

  /**
   * The atlas as the position encoder's spatial cue (AtlasOptions.position): each job with an
   * atlas gets its support with the prototype's position channels moved onto the job's atlas
   * (its slices' maps summed, on the grid), so the position cue points where the organ is carried
   * on this query rather than where it lay on the support slice. Only for encoders with explicit
   * position channels (FeatureEncoder.placePrototype); the supports made are released with the volume.
   */
  private placeOnAtlas(jobs: readonly SegmentJob[]): { jobs: readonly SegmentJob[]; placed: SupportEncoding[] } {
    const place = this.backend.sam.placePrototype?.bind(this.backend.sam);
    if (!place || !this.options.atlas.position || !jobs.some((j) => j.atlas)) return { jobs, placed: [] };
    const placed: SupportEncoding[] = [];
    const per = GRID / ATLAS_GRID;
    return {
      jobs: jobs.map((job) => {
        if (!job.atlas) return job;
        const sum = job.placement ?? atlasSum(job.atlas);
        const cells = Float32Array.from({ length: CELLS }, (_, c) => sum[Math.floor(Math.floor(c / GRID) / per) * ATLAS_GRID + Math.floor((c % GRID) / per)]!);
        const support = { ...job.support, protoSam: place(job.support.protoSam, cells) };
        placed.push(support);
        return { ...job, support };
      }),
      placed,
    };
  }

  /**
   * `overlapConfidence`: of each row's fused confidence, the cells that combineOrgans reads, read
   * in one chain into `row.synmap`: for every pixel two organs' final masks share, the 2×2 cells
   * its bilinear value comes from, in the maps of the organs that claim it. The cells cross as
   * runs of neighbours along the grid's rows; the rest of each map stays 0 on the host and never leaves the
   * device (combineOrgans reads no other cell).
   */
  private async readOverlapConfidence(
    jobs: readonly SegmentJob[],
    rows: SliceResult[][],
    synmaps: readonly { tensor: T<'f32'>; row: number }[][],
  ): Promise<void> {
    const bySlice = new Map<number, { j: number; k: number; organ: number }[]>();
    jobs.forEach((job, j) =>
      job.slices.forEach((z, k) => {
        if (!rows[j]![k]!.final.some((v) => v)) return;
        const list = bySlice.get(z) ?? [];
        list.push({ j, k, organ: job.organ ?? j });
        bySlice.set(z, list);
      }),
    );
    const wanted: { j: number; k: number; cells: Uint8Array }[] = [];
    for (const list of bySlice.values()) {
      if (new Set(list.map((x) => x.organ)).size < 2) continue;
      sharedCells(list.map(({ j, k }) => rows[j]![k]!.final)).forEach((cells, i) => {
        if (cells) wanted.push({ j: list[i]!.j, k: list[i]!.k, cells });
      });
    }
    if (wanted.length === 0) return;
    const runs = wanted.map(({ j, k, cells }) => {
      const source = synmaps[j]![k]!;
      return cellRuns(cells).map((r) => ({ tensor: source.tensor, offset: source.row * CELLS + r.offset, length: r.length, cell: r.offset }));
    });
    const values = await this.kernels.chain('read', async (s) => {
      s.stage('read');
      return s.read(s.spans(runs.flat()));
    });
    let at = 0;
    wanted.forEach(({ j, k }, i) => {
      const map = new Float32Array(CELLS);
      for (const r of runs[i]!) {
        map.set(values.subarray(at, at + r.length), r.cell);
        at += r.length;
      }
      rows[j]![k]!.synmap = map;
    });
  }

  /** How many masks (one u32 a pixel on the device) one gathered tensor can hold. */
  private masksPerTensor(): number {
    return Math.max(1, Math.floor(this.kernels.maxTensorBytes / (PIXELS * 4)));
  }

  /** The final masks of many rows on the host: one chain, the masks crossing as bits. */
  private readMasks(sources: readonly MaskSource[]): Promise<Uint8Array[]> {
    return this.readGathered(sources, PIXELS, (s, t) => s.readMask(t));
  }

  /** Rows of fused maps on the stream, on the host: one chain. */
  private readMaps(sources: readonly { tensor: T<'f32'>; row: number }[]): Promise<Float32Array[]> {
    return this.readGathered(sources, CELLS, (s, t) => s.read(t));
  }

  /**
   * Rows of `size` values kept on the stream, on the host, one array a row: gathered into as few
   * tensors as one binding allows (4 bytes a value on the device) and read in one chain.
   */
  private async readGathered<D extends 'mask' | 'f32', A extends Uint8Array | Float32Array>(
    sources: readonly { tensor: T<D>; row: number }[],
    size: number,
    read: (s: TensorStream, rows: T<D>) => Promise<A>,
  ): Promise<A[]> {
    if (sources.length === 0) return [];
    const perChunk = Math.max(1, Math.floor(this.kernels.maxTensorBytes / (size * 4)));
    return this.kernels.chain('read', async (s) => {
      s.stage('read');
      const chunks: Promise<A>[] = [];
      for (let i = 0; i < sources.length; i += perChunk) chunks.push(read(s, s.gather(sources.slice(i, i + perChunk))));
      return (await Promise.all(chunks)).flatMap((rows) => Array.from({ length: rows.length / size }, (_, r) => rows.slice(r * size, (r + 1) * size) as A));
    });
  }

  /** The pixels each pair of masks on the stream shares: one chain, the counts read as readArea reads areas. */
  async maskOverlaps(pairs: readonly (readonly [MaskSource, MaskSource])[]): Promise<number[]> {
    if (pairs.length === 0) return [];
    const perChunk = this.masksPerTensor();
    return this.kernels.chain('overlap', async (s) => {
      s.stage('read');
      const chunks: Promise<number[]>[] = [];
      for (let i = 0; i < pairs.length; i += perChunk) {
        const part = pairs.slice(i, i + perChunk);
        const a = s.gather(part.map(([x]) => x));
        chunks.push(this.readArea(s, a, part.length, s.gather(part.map(([, y]) => y))));
      }
      return (await Promise.all(chunks)).flat();
    });
  }

  /**
   * The volume's slices on the stream's device, made once per volume (null: they do not fit one
   * binding): prepared there from its voxels, which go up packed as the file's own integers, where
   * the volume carries them and they fit; the host's slices uploaded otherwise.
   */
  private volumeTensor(s: TensorStream, volume: QueryVolume): T<'f32'> | null {
    if (volume.nz * PIXELS * 4 > s.maxTensorBytes) return null;
    return s.resident(volume.slices, 'slices', () => {
      const { voxels } = volume;
      const [, , w, h] = voxels?.shape.region ?? [0, 0, ROI, ROI];
      const packed = voxels && volume.nz * w * h * 4 <= s.maxTensorBytes ? packVoxels(voxels.data) : null;
      if (!voxels || !packed || packed.words.byteLength > s.maxTensorBytes) return new HostTensor('f32', [volume.nz, PIXELS], volume.slices);
      return s.run(prepareSlices, { voxels: s.upload(packed.words, [packed.words.length]) }, { ...voxels.shape, format: packed.format, outH: ROI, outW: ROI });
    });
  }

  /**
   * Slices `zs` of a volume on the stream, encoded: the images from the volume on the device (GPU)
   * and the encodings from the caches where their names' keys are known.
   */
  private async encodeSlices(s: TensorStream, volume: QueryVolume, zs: readonly number[], names: readonly SliceName[]): Promise<EncodedSlices> {
    const B = zs.length;
    const contiguous = zs.every((z, i) => z === zs[0]! + i);
    const host = contiguous ? volume.slices.subarray(zs[0]! * PIXELS, (zs[0]! + B) * PIXELS) : rowsOf(volume.slices, zs);
    let tensor: T<'f32'> | null = null;
    if (s.path === 'gpu') {
      const whole = this.volumeTensor(s, volume);
      if (whole) tensor = contiguous && B === volume.nz ? whole : s.take(whole, zs);
    }
    const images = { host, tensor: tensor ?? s.upload(host, [B, PIXELS]) };
    const keys = zs.map((z) => names[z]?.key);
    s.stage('encoders');
    const t0 = performance.now();
    const { sam, dino } = s.path === 'cpu' ? await this.encodeKeyed(s, images, B, keys) : await this.encodeOnDevice(s, images, B, keys);
    this.encoded.ms += performance.now() - t0;
    return { B, images, sam, dino, seeds: zs.map((z) => names[z]?.seed ?? z) };
  }

  /** Both encodings of B slices on the GPU, from the device cache where their keys are known. */
  private async encodeOnDevice(s: TensorStream, images: SliceBatch, B: number, keys: (string | undefined)[]): Promise<{ sam: T<'f32'>; dino: T<'f32'> }> {
    const hits = keys.map((k) => (k === undefined ? undefined : this.deviceEncodings.get(k)));
    const missing = hits.flatMap((h, b) => (h ? [] : [b]));
    let fresh: { sam: T<'f32'>; dino: T<'f32'> } | null = null;
    if (missing.length > 0) {
      this.encoded.slices += missing.length;
      const sub = missing.length === B ? images : { host: rowsOf(images.host, missing), tensor: s.take(images.tensor, missing) };
      fresh = await this.encodeOn(s, sub, missing.length);
      missing.forEach((b, i) => {
        const key = keys[b];
        if (key === undefined) return;
        const one = (t: T<'f32'>) => s.keep(s.take(t, [i])) as DeviceTensor<'f32'>;
        this.deviceEncodings.set(key, { sam: one(fresh!.sam), dino: one(fresh!.dino) });
      });
      if (missing.length === B) return fresh;
    }
    const rows = (part: 'sam' | 'dino') =>
      hits.map((h, b) => (h ? { tensor: h[part] as T<'f32'>, row: 0 } : { tensor: fresh![part], row: missing.indexOf(b) }));
    return { sam: s.gather(rows('sam')), dino: s.gather(rows('dino')) };
  }

  /** Both encodings of B slices on the CPU path, from the host cache where their keys are known. */
  private async encodeKeyed(s: TensorStream, slices: SliceBatch, B: number, keys: (string | undefined)[]): Promise<{ sam: T<'f32'>; dino: T<'f32'> }> {
    const Cs = this.backend.sam.channels * CELLS;
    const Cd = this.backend.dino.channels * CELLS;
    if (keys.every((k) => k === undefined || !this.encodings.has(k))) {
      this.encoded.slices += B;
      const fresh = await this.encodeOn(s, slices, B);
      const encodings = await this.hostEncodings(s, fresh, B);
      keys.forEach((key, b) => this.remember(key, encodings[b]!));
      return fresh;
    }
    const missing = keys.map((key, b) => ({ key, b })).filter(({ key }) => key === undefined || !this.encodings.has(key));
    const sam = new Float32Array(B * Cs);
    const dino = new Float32Array(B * Cd);
    if (missing.length > 0) {
      this.encoded.slices += missing.length;
      const host = rowsOf(
        slices.host,
        missing.map((m) => m.b),
      );
      const fresh = await this.encodeOn(s, { host, tensor: s.upload(host, [missing.length, PIXELS]) }, missing.length);
      const encodings = await this.hostEncodings(s, fresh, missing.length);
      missing.forEach(({ key, b }, i) => {
        const enc = encodings[i]!;
        this.remember(key, enc);
        sam.set(enc.sam, b * Cs);
        dino.set(enc.dino, b * Cd);
      });
    }
    keys.forEach((key, b) => {
      const hit = key === undefined ? undefined : this.encodings.get(key);
      if (hit && !missing.some((m) => m.b === b)) {
        sam.set(hit.sam, b * Cs);
        dino.set(hit.dino, b * Cd);
      }
    });
    return { sam: s.upload(sam, [B, this.backend.sam.channels, CELLS]), dino: s.upload(dino, [B, this.backend.dino.channels, CELLS]) };
  }

  /** Both encodings of B fresh slices read to the host, one HostEncoding a slice. */
  private async hostEncodings(s: TensorStream, fresh: { sam: T<'f32'>; dino: T<'f32'> }, B: number): Promise<HostEncoding[]> {
    const Cs = this.backend.sam.channels * CELLS;
    const Cd = this.backend.dino.channels * CELLS;
    const [sam, dino] = await Promise.all([s.read(fresh.sam), s.read(fresh.dino)]);
    return Array.from({ length: B }, (_, b) => ({ sam: sam.slice(b * Cs, (b + 1) * Cs), dino: dino.slice(b * Cd, (b + 1) * Cd) }));
  }

  private remember(key: string | undefined, enc: HostEncoding): void {
    if (key !== undefined) this.encodings.set(key, enc);
  }

  /** The rows of groups, cut so that no post-encoder pass takes more than `maxRows`. */
  private chunkRows(groups: RowGroup[]): RowGroup[][] {
    const max = this.maxRows;
    const chunks: RowGroup[][] = [[]];
    let n = 0;
    for (const g of groups) {
      for (let i = 0; i < g.slices.length;) {
        if (n === max) {
          chunks.push([]);
          n = 0;
        }
        const take = Math.min(max - n, g.slices.length - i);
        chunks[chunks.length - 1]!.push({ support: g.support, slices: g.slices.slice(i, i + take), ...(g.atlas && { atlas: g.atlas.slice(i, i + take) }) });
        i += take;
        n += take;
      }
    }
    return chunks.filter((c) => c.length > 0);
  }

  /** One batch of the per-slice pass: its slices encoded once, then every job's rows together. */
  private firstPassBatch(
    volume: QueryVolume,
    b0: number,
    nb: number,
    jobs: readonly SegmentJob[],
    local: number[][],
    names: readonly SliceName[],
    options: Pick<SegmentJobsOptions, 'detail' | 'guides'> & { readMasks: boolean; keepMasks: boolean; keepSynmaps: boolean },
  ): Promise<BatchOut> {
    const zs = Array.from({ length: nb }, (_, i) => b0 + i);
    const groups = jobs.flatMap((job, j) => {
      if (!local[j]!.length) return [];
      const atlas = job.atlas && job.slices.flatMap((z, k) => (z >= b0 && z < b0 + nb ? [job.atlas![k]!] : []));
      return [{ j, support: job.support, slices: local[j]!, ...(atlas && { atlas }) }];
    });
    return this.speculate('segment', async (s) => {
      const enc = await this.encodeSlices(s, volume, zs, names);
      const chunks = this.chunkRows(groups);
      const outs: RowOutputs[] = [];
      for (const chunk of chunks) {
        const guides =
          options.guides &&
          s.upload(concatRows(chunk.flatMap((g) => g.slices.map((i) => options.guides![b0 + i]!))), [chunk.reduce((n, g) => n + g.slices.length, 0), PIXELS]);
        outs.push(await this.postEncoder(s, enc, chunk, { ...(options.detail !== undefined && { detail: options.detail }), ...(guides && { guides }) }));
      }
      // Every read is scheduled after everything is recorded: the batch is one submission.
      const reads = await Promise.all(
        outs.map((out) => this.readRows(s, out, enc, { masks: options.readMasks, areas: options.keepMasks, detail: options.detail })),
      );
      if (!s.settled()) return null;
      const keptFinals = options.keepMasks ? outs.map((out) => s.keep(out.final)) : [];
      const keptSynmaps = options.keepSynmaps ? outs.map((out) => s.keep(out.synmap)) : [];
      // Back to jobs: the chunks hold the groups' rows in order.
      const jobOfRow = groups.flatMap((g) => g.slices.map(() => g.j));
      const perJob: RowResult[][] = jobs.map(() => []);
      const masks: { mask: MaskSource; area: number }[][] = jobs.map(() => []);
      const synmaps: { tensor: T<'f32'>; row: number }[][] = jobs.map(() => []);
      let k = 0;
      outs.forEach((out, c) => {
        for (let r = 0; r < out.R; r++, k++) {
          const j = jobOfRow[k]!;
          perJob[j]!.push(reads[c]!.rows[r]!);
          if (options.keepMasks) masks[j]!.push({ mask: { tensor: keptFinals[c]!, row: r }, area: reads[c]!.areas![r]! });
          if (options.keepSynmaps) synmaps[j]!.push({ tensor: keptSynmaps[c]!, row: r });
        }
      });
      return { perJob, masks, synmaps, kept: [...keptFinals, ...keptSynmaps] };
    });
  }

  /**
   * One step of the propagation pass: every row's slice segmented against its support, guided by
   * its neighbour's mask where it has one (a tensor of an earlier step, never on the host).
   * Returns the new masks on the stream (kept: the caller releases them) with their areas and
   * points, one per row in order (and their fused confidences, with `synmaps`). With `steps` set
   * (PropagationSteps), the step joins those of other volumes propagating at the same time in one
   * chain.
   */
  async propagationStep(volume: QueryVolume, rows: readonly PropagationRow[], names: readonly SliceName[], synmaps = false): Promise<PropagationStepOut> {
    const request = { synpo: this, volume, rows, names, synmaps };
    if (this.steps) return this.steps.step(request);
    return (await this.propagationSteps([request]))[0]!;
  }

  /**
   * The steps of several volumes as one chain (one submission on the GPU): each volume's slices
   * encoded (from its own Synpo's caches), then all their rows in the same post-encoder passes
   * (the guided rows and the unguided ones in passes of their own). The Synpos must share this
   * one's backend, kernels and options (PropagationSteps checks); a row's result does not depend
   * on the rows beside it, so each volume gets what its own step would give. This Synpo runs the
   * chain (its speculation counters count it).
   */
  async propagationSteps(parts: readonly PropagationStepRequest[]): Promise<PropagationStepOut[]> {
    // Per volume: its slices, and its rows grouped by support and by whether they are guided
    // (output rows come group by group, the guided groups first).
    const plans = parts.map(({ rows }) => {
      const zs = [...new Set(rows.map((r) => r.z))];
      const byKind = [new Map<SupportEncoding, number[]>(), new Map<SupportEncoding, number[]>()];
      rows.forEach((r, i) => {
        const bySupport = byKind[r.guide ? 0 : 1]!;
        const list = bySupport.get(r.support);
        if (list) list.push(i);
        else bySupport.set(r.support, [i]);
      });
      return { zs, lists: byKind.map((m) => [...m]) };
    });
    return this.speculate('propagate', async (s) => {
      const encs: EncodedSlices[] = [];
      for (const [p, part] of parts.entries()) encs.push(await part.synpo.encodeSlices(s, part.volume, plans[p]!.zs, part.names));
      const enc = encs.length === 1 ? encs[0]! : joinEncoded(s, encs);
      // The groups over the joined slices, guided then unguided, and each output row's (volume, row).
      const groups: RowGroup[][] = [[], []];
      const owner: { p: number; i: number }[] = [];
      for (const kind of [0, 1]) {
        let base = 0;
        plans.forEach(({ zs, lists }, p) => {
          const rows = parts[p]!.rows;
          for (const [support, list] of lists[kind]!) {
            const atlas = rows[list[0]!]!.atlas && list.map((i) => rows[i]!.atlas!);
            groups[kind]!.push({ support, slices: list.map((i) => base + zs.indexOf(rows[i]!.z)), ...(atlas && { atlas }) });
            for (const i of list) owner.push({ p, i });
          }
          base += zs.length;
        });
      }
      const chunks = [...this.chunkRows(groups[0]!).map((c) => ({ c, guided: true })), ...this.chunkRows(groups[1]!).map((c) => ({ c, guided: false }))];
      const outs: RowOutputs[] = [];
      const nexts: (T<'mask'> | null)[] = [];
      const reports: boolean[] = [];
      let first = 0;
      for (const { c: chunk, guided } of chunks) {
        const n = chunk.reduce((a, g) => a + g.slices.length, 0);
        if (n === 0) continue;
        const rowsHere = owner.slice(first, first + n).map(({ p, i }) => parts[p]!.rows[i]!);
        const guides = guided ? s.gather(rowsHere.map((r) => r.guide!)) : undefined;
        const out = await this.postEncoder(s, enc, chunk, guides ? { guides } : {});
        outs.push(out);
        reports.push(rowsHere.some((r) => r.report));
        // The rows' next masks (a row without one measures against its own new mask, unread).
        nexts.push(rowsHere.some((r) => r.next) ? s.gather(rowsHere.map((r, i) => r.next ?? { tensor: out.final, row: i })) : null);
        first += n;
      }
      // Where each output row is: its chunk and row there.
      const at = outs.flatMap((out, c) => Array.from({ length: out.R }, (_, r) => ({ c, r })));
      // Several volumes: each gets its rows' masks (and maps) in tensors of its own, which it releases when done.
      const own =
        parts.length > 1 &&
        parts.map((part, p) => {
          const ks = owner.flatMap((o, k) => (o.p === p ? [k] : []));
          const masks = s.gather(ks.map((k) => ({ tensor: outs[at[k]!.c]!.final, row: at[k]!.r })));
          const synmaps = part.synmaps ? s.gather(ks.map((k) => ({ tensor: outs[at[k]!.c]!.synmap, row: at[k]!.r }))) : null;
          return { ks, masks, synmaps };
        });
      const [areas, overlaps, points] = await Promise.all([
        Promise.all(outs.map((out) => this.readArea(s, out.final, out.R))),
        Promise.all(outs.map((out, c) => (nexts[c] ? this.readArea(s, out.final, out.R, nexts[c]) : null))),
        Promise.all(outs.map((out, c) => (reports[c] ? readPoints(s, { positives: out.positives, negatives: out.negatives }, out.R) : null))),
      ]);
      if (!s.settled()) return null;
      const results: PropagationStepOut[] = parts.map((part) => ({
        masks: new Array(part.rows.length),
        areas: new Array(part.rows.length),
        points: new Array(part.rows.length),
        overlaps: new Array(part.rows.length).fill(0),
        ...(part.synmaps && { synmaps: new Array(part.rows.length) }),
        kept: [],
      }));
      // Output row k's mask, area, points, map and overlap go to its volume's row.
      const give = (k: number, mask: MaskSource, synmap: { tensor: T<'f32'>; row: number } | null) => {
        const { p, i } = owner[k]!;
        const { c, r } = at[k]!;
        const result = results[p]!;
        result.masks[i] = mask;
        result.areas[i] = areas[c]![r]!;
        if (parts[p]!.rows[i]!.report) result.points[i] = points[c]![r]!;
        if (synmap) result.synmaps![i] = synmap;
        if (parts[p]!.rows[i]!.next) result.overlaps[i] = overlaps[c]![r]!;
      };
      if (own) {
        own.forEach(({ ks, masks, synmaps }, p) => {
          const kept = s.keep(masks);
          const keptMaps = synmaps && s.keep(synmaps);
          results[p]!.kept.push(kept, ...(keptMaps ? [keptMaps] : []));
          ks.forEach((k, row) => give(k, { tensor: kept, row }, keptMaps && { tensor: keptMaps, row }));
        });
      } else {
        const kept = outs.map((out) => s.keep(out.final));
        const keptMaps = parts[0]!.synmaps ? outs.map((out) => s.keep(out.synmap)) : null;
        results[0]!.kept.push(...kept, ...(keptMaps ?? []));
        at.forEach(({ c, r }, k) => give(k, { tensor: kept[c]!, row: r }, keptMaps && { tensor: keptMaps[c]!, row: r }));
      }
      return results;
    });
  }

  /**
   * Each row's mask area in pixels, read as the fractions of a coarse grid of cells (exact); with
   * `and`, the pixels it shares with that row of `and`.
   */
  private async readArea(s: TensorStream, masks: T<'mask'>, R: number, and: T<'mask'> | null = null): Promise<number[]> {
    const cells = AREA_GRID * AREA_GRID;
    const f = await s.read(s.run(poolMask, { masks, and }, { B: R, H: ROI, W: ROI, G: AREA_GRID }));
    return Array.from({ length: R }, (_, r) => {
      let a = 0;
      for (let c = 0; c < cells; c++) a += f[r * cells + c]! * (PIXELS / cells);
      return Math.round(a);
    });
  }

  /**
   * Everything after the encoders for the rows of `groups` (each group a support and some of the
   * encoded slices): CMSM per support, then PSM, the decoder and NRM on all rows at once, each
   * row with its own support's μ, σ and extent. `guides` ([R][ROI·ROI]) are neighbours' masks.
   */
  private async postEncoder(
    s: TensorStream,
    enc: EncodedSlices,
    groups: readonly RowGroup[],
    options: Pick<SegmentOptions, 'detail'> & { guides?: T<'mask'> },
  ): Promise<RowOutputs> {
    const o = this.options;
    const Cs = this.backend.sam.channels;
    const Cd = this.backend.dino.channels;
    const slices = groups.flatMap((g) => [...g.slices]);
    const supports = groups.flatMap((g) => g.slices.map(() => g.support));
    const R = slices.length;
    const identity = (list: readonly number[]) => list.length === enc.B && list.every((v, i) => v === i);
    s.stage('confidence');
    const parts = groups.map((g) => {
      const every = identity(g.slices);
      const n = g.slices.length;
      const protoSam = s.resident(g.support, 'protoSam', () => new HostTensor('f32', [Cs], g.support.protoSam));
      const protoDino = s.resident(g.support, 'protoDino', () => new HostTensor('f32', [Cd], g.support.protoDino));
      const confSam = s.run(confidence, { features: every ? enc.sam : s.take(enc.sam, g.slices), prototypes: protoSam }, { B: n, C: Cs, N: CELLS });
      const confDino = s.run(confidence, { features: every ? enc.dino : s.take(enc.dino, g.slices), prototypes: protoDino }, { B: n, C: Cd, N: CELLS });
      return { confSam, confDino, synmap: this.fuse(s, confSam, confDino) };
    });
    const join = (k: 'confSam' | 'confDino' | 'synmap') =>
      parts.length === 1
        ? parts[0]![k]
        : s.concat(
            parts.map((p) => p[k]),
            [R, CELLS],
          );
    const wanted = (k: keyof SliceDetail) => options.detail === true || (Array.isArray(options.detail) && options.detail.includes(k));
    let synmap = join('synmap');
    const conf = { ...(wanted('confSam') && { confSam: join('confSam') }), ...(wanted('confDino') && { confDino: join('confDino') }) };
    // Propagation: a neighbour's mask guides where the organ is (the confidence lowered away from it).
    const guide = options.guides;
    if (guide) {
      const pooled = s.run(
        gaussian,
        { maps: s.run(poolMask, { masks: guide, and: null }, { B: R, H: ROI, W: ROI, G: GRID }) },
        { B: R, H: GRID, W: GRID, sigma: o.propagation.sigma },
      );
      synmap = s.run(guidePenalty, { maps: synmap, guide: pooled }, { B: R, N: CELLS, weight: o.propagation.weight });
    }

    // The atlas: the confidence lowered away from the support's organ carried onto the query, for
    // the points, the decoder's prior and NRM alike (as the propagation guide above).
    if (groups.some((g) => g.atlas)) {
      const maps = new Float32Array(R * ATLAS_CELLS);
      let r = 0;
      for (const g of groups) {
        // A row without an atlas gets an empty one: the penalty copies it.
        g.atlas?.forEach((a, i) => maps.set(a, (r + i) * ATLAS_CELLS));
        r += g.slices.length;
      }
      // Up to the grid from the coarse maps, then blurred. A cell's fraction is k/256 (the organ's
      // pixels of its 16×16), so the maps cross as the integers k, 512 bytes a row, and are made
      // fractions again and resized as a volume's voxels are (maps of other fractions cross as f32).
      const packed = packVoxels(maps.map((v) => v * ATLAS_CELL_PIXELS));
      const fine = s.run(
        prepareSlices,
        { voxels: s.upload(packed.words, [packed.words.length]) },
        {
          format: packed.format,
          nx: ATLAS_GRID,
          ny: ATLAS_GRID,
          nz: R,
          region: [0, 0, ATLAS_GRID, ATLAS_GRID],
          lo: 0,
          span: ATLAS_CELL_PIXELS,
          outH: GRID,
          outW: GRID,
        },
      );
      const blurred = s.run(gaussian, { maps: fine }, { B: R, H: GRID, W: GRID, sigma: o.atlas.sigma });
      synmap = s.run(guidePenalty, { maps: synmap, guide: blurred }, { B: R, N: CELLS, weight: o.atlas.weight, plateau: o.atlas.plateau });
    }
    // PSM: the points stay on the stream; the decoder's prompts are made from them there.
    s.stage('points');
    const points = this.selectPoints(
      s,
      synmap,
      R,
      supports,
      slices.map((i) => enc.seeds[i]!),
    );

    // The decoder, with the fused confidence as a prior for decoders that take one.
    s.stage('prior');
    const up = s.run(upsampleBilinear, { maps: synmap }, { B: R, inH: GRID, inW: GRID, outH: ROI, outW: ROI });
    const mus = s.upload(
      Float32Array.from(supports, (e) => e.mu),
      [R],
    );
    const prior = s.run(priorKernel, { maps: up, top: points.top, mus }, { B: R, P: PIXELS, sharpness: o.priorSharpness });
    const images = identity(slices) ? enc.images : { host: rowsOf(enc.images.host, slices), tensor: s.take(enc.images.tensor, slices) };
    const clusters = { positives: points.positives, negatives: points.negatives };
    const request = {
      B: R,
      images,
      clusters,
      points: async () => (await readPoints(s, clusters, R)).map((p) => [...p.positives, ...p.negatives]),
      prior,
      extents: supports.map((e) => e.extent),
    };
    s.stage('decoder');
    // With a guide, the neighbour's mask also prompts the first decoding.
    const coarse = await this.backend.decoder.decode(guide ? { ...request, maskPrompt: guide } : request, s);

    // NRM.
    let final = coarse;
    if (o.refine.enabled) {
      s.stage('refine');
      const refined = this.bestComponents(s, coarse, up, R);
      s.stage('decoder');
      const second = await this.backend.decoder.decode({ ...request, maskPrompt: refined.mask }, s);
      s.stage('refine');
      // An empty refined mask stays empty: there was nothing to prompt the second pass with.
      final = this.bestComponents(s, s.run(keepRows, { masks: second, found: refined.found }, { B: R, P: PIXELS }), up, R).mask;
    }
    return { R, slices, final, synmap, coarse, ...conf, positives: points.positives, negatives: points.negatives };
  }

  /** The host side of R rows: points, masks (as bits) and areas when asked for, the intermediates asked for. */
  private async readRows(
    s: TensorStream,
    out: RowOutputs,
    enc: EncodedSlices,
    want: { masks: boolean; areas: boolean; detail: SegmentOptions['detail'] },
  ): Promise<{ rows: RowResult[]; areas?: number[] }> {
    s.stage('read');
    const Cs = this.backend.sam.channels;
    const Cd = this.backend.dino.channels;
    const wanted = (k: keyof SliceDetail) => want.detail === true || (Array.isArray(want.detail) && want.detail.includes(k));
    const rowsOfEnc = (t: T<'f32'>) => (out.slices.length === enc.B && out.slices.every((v, i) => v === i) ? t : s.take(t, out.slices));
    const tensors: Partial<Record<keyof SliceDetail, () => T>> = {
      featSam: () => rowsOfEnc(enc.sam),
      featDino: () => rowsOfEnc(enc.dino),
      confSam: () => out.confSam!,
      confDino: () => out.confDino!,
      synmap: () => out.synmap,
      coarse: () => out.coarse,
    };
    const perRow = { featSam: Cs * CELLS, featDino: Cd * CELLS, confSam: CELLS, confDino: CELLS, synmap: CELLS, coarse: PIXELS };
    const keys = (Object.keys(tensors) as (keyof SliceDetail)[]).filter(wanted);
    const [points, masks, areas, ...detail] = await Promise.all([
      readPoints(s, { positives: out.positives, negatives: out.negatives }, out.R),
      want.masks ? s.readMask(out.final) : null,
      want.areas ? this.readArea(s, out.final, out.R) : null,
      ...keys.map((k) => s.read(tensors[k]!() as T<'f32'>)),
    ]);
    const rows = Array.from({ length: out.R }, (_, r) => {
      const row: RowResult = {
        positives: points[r]!.positives,
        negatives: points[r]!.negatives,
        ...(masks && { final: masks.slice(r * PIXELS, (r + 1) * PIXELS) }),
      };
      keys.forEach((k, i) => {
        (row as Record<string, unknown>)[k] = detail[i]!.slice(r * perRow[k], (r + 1) * perRow[k]);
      });
      return row;
    });
    return { rows, ...(areas && { areas }) };
  }

  /**
   * PSM on the 64×64 grid: the top γ1·Kp cells clustered into Kp positives; the band cells (a
   * seeded random γ2·Kn of them when there are more) clustered into Kn negatives, each row's band
   * from its own support's μ and σ. The centres stay on the stream (`readPoints` brings them to
   * the host as prompt points at their cells' centres), with the moments of each row's top cells
   * (the prior's upper anchor).
   *
   * Random choices per slice: k-means++ of the positives draws from stream 3·seed, the band
   * subset from 3·seed + 1, k-means++ of the negatives from 3·seed + 2 (each seeded by
   * `options.seed`), so a slice's points do not depend on its batch.
   */
  selectPoints(
    s: TensorStream,
    synmap: T<'f32'>,
    B: number,
    supports: readonly Pick<SupportEncoding, 'mu' | 'sigma'>[],
    sliceSeeds: readonly number[],
  ): { positives: PointClusters; negatives: PointClusters | null; top: T<'f32'> } {
    const o = this.options.points;
    const seed = this.options.seed;
    const draws = (count: number, offset: number) => {
      const d = new Uint32Array(B * count);
      sliceSeeds.forEach((sliceSeed, b) => d.set(drawIntegers(createRng(seed, 3 * sliceSeed + offset), count), b * count));
      return s.upload(d, [B, count]);
    };
    const K1 = o.positiveCandidates;
    const top = s.run(topk, { values: synmap }, { B, N: CELLS, k: K1 });
    const topStats = s.run(moments, { values: top.values, mask: null }, { B, N: K1 });
    const posCells = s.run(cellPoints, { indices: top.indices, counts: null }, { B, n: K1, G: GRID });
    const maxIterations = KMEANS_DEFAULT_MAX_ITERATIONS;
    const pos = s.run(kmeans, { ...posCells, draws: draws(o.positives, 0) }, { B, n: K1, k: o.positives, maxIterations });

    let neg: { centroids: T<'f32'>; sizes: T<'u32'> } | null = null;
    if (o.negativeSource === 'band') {
      const bounds = s.upload(Float32Array.from(supports.flatMap((e) => [e.mu - o.alpha * e.sigma, e.mu - o.beta * e.sigma])), [B, 2]);
      const candidates = s.run(band, { values: synmap, bounds }, { B, N: CELLS });
      const sample = s.run(sampleRows, { ...candidates, draws: draws(o.negativeCandidates, 1) }, { B, n: CELLS, m: o.negativeCandidates });
      const cells = s.run(cellPoints, sample, { B, n: CELLS, G: GRID });
      neg = s.run(kmeans, { ...cells, draws: draws(o.negatives, 2) }, { B, n: CELLS, k: o.negatives, maxIterations });
    } else if (o.negativeSource === 'lowest') {
      // The lowest values: the top of −synmap.
      const negated = s.run(synergy, { a: synmap, b: synmap }, { both: 0, sam: -1, dino: 0 });
      const lowest = s.run(topk, { values: negated }, { B, N: CELLS, k: o.negativeCandidates });
      const cells = s.run(cellPoints, { indices: lowest.indices, counts: null }, { B, n: o.negativeCandidates, G: GRID });
      neg = s.run(kmeans, { ...cells, draws: draws(o.negatives, 2) }, { B, n: o.negativeCandidates, k: o.negatives, maxIterations });
    }
    return { positives: { ...pos, k: o.positives }, negatives: neg && { ...neg, k: o.negatives }, top: topStats };
  }

  /** NRM steps 1–2: opening, then the component with the best mean confidence. */
  bestComponents(s: TensorStream, masks: T<'mask'>, confidence256: T<'f32'>, B: number): { mask: T<'mask'>; found: T<'u32'> } {
    const r = this.options.refine;
    const shape = { B, H: ROI, W: ROI };
    const element = { shape: r.openingShape, radius: r.openingRadius };
    const eroded = s.run(morphology, { masks }, { ...shape, op: 'erode', element });
    const opened = s.run(morphology, { masks: eroded }, { ...shape, op: 'dilate', element });
    return s.run(bestComponent, { masks: opened, values: confidence256 }, { ...shape, connectivity: r.connectivity });
  }

  /** NRM steps 1–2 for B ROI masks on the host (a convenience around the stream form). */
  async refineMasks(masks: Uint8Array[], confidence256: Float32Array): Promise<Uint8Array[]> {
    const B = masks.length;
    if (B === 0) return [];
    return this.kernels.chain('refine', async (s) => {
      const best = this.bestComponents(s, s.upload(concatRows(masks), [B, PIXELS]), s.upload(confidence256.subarray(0, B * PIXELS), [B, PIXELS]), B);
      const host = await s.read(best.mask);
      return masks.map((_, b) => host.slice(b * PIXELS, (b + 1) * PIXELS));
    });
  }
}

/** What one batch of the per-slice pass gives back, per job. */
interface BatchOut {
  perJob: RowResult[][];
  masks: { mask: MaskSource; area: number }[][];
  /** Per job, each row's fused confidence on the stream (with `keepSynmaps`). */
  synmaps: { tensor: T<'f32'>; row: number }[][];
  kept: Tensor[];
}

/** Whether a `detail` option asks for the fused map and nothing else (what combining organs needs). */
function synmapOnly(detail: SegmentOptions['detail']): boolean {
  return Array.isArray(detail) && detail.length > 0 && detail.every((k) => k === 'synmap');
}

/** Whether a `detail` option reads the synergy map of every row anyway. */
function wantsSynmap(detail: SegmentOptions['detail']): boolean {
  return detail === true || (Array.isArray(detail) && detail.includes('synmap'));
}

/** A job cut down to the slices `keep` marks (its atlas maps with them). */
function onlySlices(job: SegmentJob, keep: readonly boolean[]): SegmentJob {
  const atlas = job.atlas?.filter((_, k) => keep[k]);
  return { ...job, slices: job.slices.filter((_, k) => keep[k]), ...(atlas && { atlas }) };
}

/** Rows `rows` of [n][ROI·ROI] slices, copied in order. */
function rowsOf<A extends Float32Array | Uint8Array>(data: A, rows: readonly number[]): A {
  const out = new (data.constructor as new (n: number) => A)(rows.length * PIXELS);
  rows.forEach((r, i) => out.set(data.subarray(r * PIXELS, (r + 1) * PIXELS), i * PIXELS));
  return out;
}

/** ROI masks one after another. */
function concatRows(masks: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(masks.length * PIXELS);
  masks.forEach((m, b) => all.set(m, b * PIXELS));
  return all;
}

/** PSM's centres on the host, as each row's positive and negative prompt points. */
async function readPoints(
  s: TensorStream,
  c: { positives: PointClusters; negatives: PointClusters | null },
  B: number,
): Promise<{ positives: PromptPoint[]; negatives: PromptPoint[] }[]> {
  const [pc, ps, nc, ns] = await Promise.all([
    s.read(c.positives.centroids),
    s.read(c.positives.sizes),
    c.negatives ? s.read(c.negatives.centroids) : null,
    c.negatives ? s.read(c.negatives.sizes) : null,
  ]);
  const positives = toPoints(pc, ps, B, c.positives.k, 1);
  const negatives = nc && ns ? toPoints(nc, ns, B, c.negatives!.k, 0) : null;
  return positives.map((p, b) => ({ positives: p, negatives: negatives?.[b] ?? [] }));
}

/** Live k-means centres ([B][K][2], sizes [B][K]) as prompt points at their grid cells' centres. */
function toPoints(centroids: Float32Array, sizes: Uint32Array, B: number, K: number, label: 0 | 1): PromptPoint[][] {
  const cell = ROI / GRID;
  return Array.from({ length: B }, (_, b) => {
    const points: PromptPoint[] = [];
    for (let k = 0; k < K; k++) {
      if (sizes[b * K + k] === 0) continue;
      points.push({
        x: Math.round(centroids[2 * (b * K + k)]!) * cell + cell / 2,
        y: Math.round(centroids[2 * (b * K + k) + 1]!) * cell + cell / 2,
        label,
      });
    }
    return points;
  });
}

/** Width and height of a ROI mask's bounding box, and its area. */
function extentOf(mask: Uint8Array): OrganExtent {
  let [x0, x1, y0, y1] = [ROI, -1, ROI, -1];
  let area = 0;
  mask.forEach((v, i) => {
    if (!v) return;
    area++;
    const x = i % ROI;
    const y = (i - x) / ROI;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  });
  return x1 < 0 ? { width: 0, height: 0, area: 0 } : { width: x1 - x0 + 1, height: y1 - y0 + 1, area };
}
