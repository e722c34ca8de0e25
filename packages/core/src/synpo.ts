/**
 * SynPo on 2-D slices: CMSM (confidence maps of both encoders, Hadamard synergy, Gaussian model
 * of the negatives), PSM (positive points from the top of the fused map, negative points from
 * the band [μ − α·σ, μ − β·σ]), the decoder, and NRM (opening, best component by confidence,
 * a second decoder pass with the mask prompt, opening and best component again).
 *
 * Each batch of query slices is one chain of kernels on one tensor stream, so on the GPU it
 * stays on the GPU: the slices go up once, the prompt points come back (a few hundred bytes a
 * slice: the host turns them into the decoder's prompts), and the final masks come back once, as
 * bytes. Intermediates are read back only when asked for (`detail`). The same code runs on the
 * CPU references.
 */
import { createRng, drawIntegers, HostTensor, KMEANS_DEFAULT_MAX_ITERATIONS, ShapeError, type Kernels, type T, type TensorStream } from '@synpo/gpu';
import { CELLS, GRID, PIXELS, ROI, type Backend, type OrganExtent, type PromptPoint, type SliceBatch } from './backend.ts';
import { ByteLru } from './cache.ts';
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
}

export interface SegmentJobsOptions extends Omit<SegmentOptions, 'onBatch'> {
  /** Called in order as each batch finishes: per job, its results among the batch's slices. */
  onBatch?(first: number, perJob: SliceResult[][]): Promise<void> | void;
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
   * (the propagation pass; see PropagationOptions).
   */
  guides?: readonly Uint8Array[];
}

/** Largest batch the automatic choice makes; more buys no speed and costs device memory. */
const MAX_AUTO_BATCH = 32;
/** Device bytes per slice besides the feature grids (decoder vectors, components), roughly. */
const DEVICE_BYTES_PER_SLICE = 1 << 20;

export class Synpo {
  readonly options: SynpoOptions;
  /** Query slices encoded so far and the wall time it took (what sharing encodings saves). */
  readonly encoded = { slices: 0, ms: 0 };
  /** Encodings kept for reuse across supports on the CPU path (one slice is queried for every organ). */
  readonly encodings: ByteLru<{ sam: Float32Array; dino: Float32Array }>;

  constructor(readonly backend: Backend, readonly kernels: Kernels, options: SynpoOptionsInput = {}) {
    this.options = resolveOptions(options);
    this.encodings = new ByteLru(this.options.cacheBytes, (e) => e.sam.byteLength + e.dino.byteLength);
  }

  /**
   * Query slices per batch: the option, or on 'auto' as many as the device's largest binding
   * holds of the biggest per-batch tensor (the feature grids), up to 32; 8 on the CPU.
   */
  get batchSize(): number {
    if (this.options.batchSize !== 'auto') return this.options.batchSize;
    if (this.kernels.path === 'cpu') return 8;
    const perSlice = Math.max(this.backend.sam.channels, this.backend.dino.channels) * CELLS * 4 + DEVICE_BYTES_PER_SLICE;
    return Math.max(1, Math.min(MAX_AUTO_BATCH, Math.floor(this.kernels.maxTensorBytes / perSlice)));
  }

  private async encodeOn(s: TensorStream, slices: SliceBatch, B: number): Promise<{ sam: T<'f32'>; dino: T<'f32'> }> {
    const sam = await this.backend.sam.encode(slices, B, s);
    const dino = await this.backend.dino.encode(slices, B, s);
    return { sam, dino };
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
      const maskGrid = s.downsampleMask(s.upload(Uint8Array.from(support.mask, (v) => (v ? 1 : 0)), [1, PIXELS]), { B: 1, inH: ROI, inW: ROI, outH: GRID, outW: GRID });
      const { sam, dino } = await this.encodeOn(s, slices, 1);
      s.stage('confidence');
      const protoSam = s.prototype(sam, maskGrid, { B: 1, C: Cs, N: CELLS });
      const protoDino = s.prototype(dino, maskGrid, { B: 1, C: Cd, N: CELLS });
      const fusedAll = this.fuse(s, s.confidence(sam, protoSam, { B: 1, C: Cs, N: CELLS }), s.confidence(dino, protoDino, { B: 1, C: Cd, N: CELLS }));
      const stats = s.moments(fusedAll, maskGrid, { B: 1, N: CELLS }, true);
      const [grid, ps, pd, fused, st, featSam, featDino] = await Promise.all([
        s.read(maskGrid), s.read(protoSam), s.read(protoDino), s.read(fusedAll), s.read(stats),
        options.detail ? s.read(sam) : null, options.detail ? s.read(dino) : null,
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
    return s.synergy(sam, dino, this.options.synergy);
  }

  /**
   * Runs SynPo on B query slices ([B][ROI·ROI], in [0, 1]) against one prepared support.
   * `slices` names each query slice: it seeds that slice's random choices (so a slice gets the
   * same points and mask whatever batch it is in) and, when given, keys an encoding cache on the
   * CPU path, so a slice queried again (for another organ) is not encoded twice. On the GPU path
   * the next batch is recorded and uploaded while the previous one computes.
   */
  async segment(support: SupportEncoding, queries: Float32Array, B: number, slices: readonly SliceName[] = [], options: SegmentOptions = {}): Promise<SliceResult[]> {
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
   * features of its own slices. Results come per job, in the order of its `slices`.
   */
  async segmentJobs(queries: Float32Array, B: number, jobs: readonly SegmentJob[], slices: readonly SliceName[] = [], options: SegmentJobsOptions = {}): Promise<SliceResult[][]> {
    if (queries.length !== B * PIXELS) throw new ShapeError('synpo', `${B} query slices need ${B * PIXELS} values, got ${queries.length}`);
    jobs.forEach((job, j) => job.slices.forEach((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= B || (k > 0 && i <= job.slices[k - 1]!)) throw new ShapeError('synpo', `job ${j}: slice indices must rise within 0..${B - 1}, got ${job.slices.join(', ')}`);
    }));
    if (options.guides && (options.guides.length !== B || options.guides.some((g) => g.length !== PIXELS))) {
      throw new ShapeError('synpo', `guides: one ${ROI}×${ROI} mask per query slice (${B}), got ${options.guides.length}`);
    }
    const size = this.batchSize;
    const depth = this.kernels.path === 'gpu' ? 2 : 1;
    const out: SliceResult[][] = jobs.map(() => []);
    const inFlight: { first: number; running: Promise<SliceResult[][]> }[] = [];
    const collect = async ({ first, running }: (typeof inFlight)[number]) => {
      const perJob = await running;
      perJob.forEach((r, j) => out[j]!.push(...r));
      await options.onBatch?.(first, perJob);
    };
    for (let b0 = 0; b0 < B; b0 += size) {
      const nb = Math.min(size, B - b0);
      const local = jobs.map((job) => job.slices.filter((i) => i >= b0 && i < b0 + nb).map((i) => i - b0));
      if (local.every((rows) => rows.length === 0)) continue;
      const batch = queries.subarray(b0 * PIXELS, (b0 + nb) * PIXELS);
      const names = Array.from({ length: nb }, (_, i) => slices[b0 + i] ?? { seed: b0 + i });
      const guides = options.guides?.slice(b0, b0 + nb);
      const running = this.jobsBatch(batch, nb, jobs.map((job) => job.support), local, names, { ...options, ...(guides && { guides }) });
      running.catch(() => {}); // awaited below; a failure while an earlier batch is awaited must not go unhandled
      inFlight.push({ first: b0, running });
      if (inFlight.length >= depth) await collect(inFlight.shift()!);
    }
    for (const f of inFlight) await collect(f);
    return out;
  }

  /** Both encodings of B slices; on the CPU path from the cache where their keys are known. */
  private async encodeKeyed(s: TensorStream, slices: SliceBatch, B: number, keys: (string | undefined)[]): Promise<{ sam: T<'f32'>; dino: T<'f32'> }> {
    const Cs = this.backend.sam.channels * CELLS;
    const Cd = this.backend.dino.channels * CELLS;
    if (s.path !== 'cpu' || keys.every((k) => k === undefined || !this.encodings.has(k))) {
      this.encoded.slices += B;
      const fresh = await this.encodeOn(s, slices, B);
      if (s.path === 'cpu') {
        const [sam, dino] = await Promise.all([s.read(fresh.sam), s.read(fresh.dino)]);
        keys.forEach((key, b) => this.remember(key, { sam: sam.slice(b * Cs, (b + 1) * Cs), dino: dino.slice(b * Cd, (b + 1) * Cd) }));
      }
      return fresh;
    }
    const missing = keys.map((key, b) => ({ key, b })).filter(({ key }) => key === undefined || !this.encodings.has(key));
    const sam = new Float32Array(B * Cs);
    const dino = new Float32Array(B * Cd);
    if (missing.length > 0) {
      this.encoded.slices += missing.length;
      const host = new Float32Array(missing.length * PIXELS);
      missing.forEach(({ b }, i) => host.set(slices.host.subarray(b * PIXELS, (b + 1) * PIXELS), i * PIXELS));
      const fresh = await this.encodeOn(s, { host, tensor: s.upload(host, [missing.length, PIXELS]) }, missing.length);
      const [fs, fd] = await Promise.all([s.read(fresh.sam), s.read(fresh.dino)]);
      missing.forEach(({ key, b }, i) => {
        const enc = { sam: fs.slice(i * Cs, (i + 1) * Cs), dino: fd.slice(i * Cd, (i + 1) * Cd) };
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

  private remember(key: string | undefined, enc: { sam: Float32Array; dino: Float32Array }): void {
    if (key !== undefined) this.encodings.set(key, enc);
  }

  /** One batch: the slices encoded once, then each job's stages on its own rows of the features. */
  private jobsBatch(queries: Float32Array, B: number, supports: SupportEncoding[], rows: number[][], names: SliceName[], options: Pick<SegmentOptions, 'detail' | 'guides'>): Promise<SliceResult[][]> {
    return this.kernels.chain('segment', async (s) => {
      // CMSM, query side: the slices go up once and are encoded once, whatever the number of jobs.
      s.stage('encoders');
      const t0 = performance.now();
      const slices = { host: queries, tensor: s.upload(queries, [B, PIXELS]) };
      const { sam, dino } = await this.encodeKeyed(s, slices, B, names.map((n) => n.key));
      this.encoded.ms += performance.now() - t0;
      const out: SliceResult[][] = [];
      for (let j = 0; j < supports.length; j++) {
        const r = rows[j]!;
        if (r.length === 0) { out.push([]); continue; }
        const everyRow = r.length === B;
        const host = everyRow ? queries : new Float32Array(r.length * PIXELS);
        if (!everyRow) r.forEach((i, k) => host.set(queries.subarray(i * PIXELS, (i + 1) * PIXELS), k * PIXELS));
        out.push(await this.postEncoder(
          s, supports[j]!,
          everyRow ? sam : s.take(sam, r), everyRow ? dino : s.take(dino, r),
          { host, tensor: everyRow ? slices.tensor : s.take(slices.tensor, r) },
          r.length, everyRow ? names : r.map((i) => names[i]!), { ...options, ...(options.guides && { guides: everyRow ? options.guides : r.map((i) => options.guides![i]!) }) },
        ));
      }
      return out;
    });
  }

  /** Everything after the encoders for B slices against one support: CMSM, PSM, the decoder, NRM. */
  private async postEncoder(s: TensorStream, support: SupportEncoding, sam: T<'f32'>, dino: T<'f32'>, slices: SliceBatch, B: number, names: SliceName[], options: Pick<SegmentOptions, 'detail' | 'guides'>): Promise<SliceResult[]> {
    const o = this.options;
    const Cs = this.backend.sam.channels;
    const Cd = this.backend.dino.channels;
    const rows = { B, P: PIXELS };
    s.stage('confidence');
    const protoSam = s.resident(support, 'protoSam', () => new HostTensor('f32', [Cs], support.protoSam));
    const protoDino = s.resident(support, 'protoDino', () => new HostTensor('f32', [Cd], support.protoDino));
    const confSam = s.confidence(sam, protoSam, { B, C: Cs, N: CELLS });
    const confDino = s.confidence(dino, protoDino, { B, C: Cd, N: CELLS });
    let synmap = this.fuse(s, confSam, confDino);
    // Propagation: a neighbour's mask guides where the organ is (the confidence lowered away from it).
    let guide: T<'mask'> | undefined;
    if (options.guides) {
      const all = new Uint8Array(B * PIXELS);
      options.guides.forEach((g, b) => all.set(g, b * PIXELS));
      guide = s.upload(all, [B, PIXELS]);
      const pooled = s.gaussian(s.poolMask(guide, { B, H: ROI, W: ROI, G: GRID }), { B, H: GRID, W: GRID }, o.propagation.sigma);
      synmap = s.guidePenalty(synmap, pooled, { B, N: CELLS }, o.propagation.weight);
    }

    // PSM: only the points come back to the host.
    s.stage('points');
    const { positives, negatives, top } = await this.selectPoints(s, synmap, B, support, names.map((n) => n.seed));

    // The decoder, with the fused confidence as a prior for decoders that take one.
    s.stage('prior');
    const up = s.upsampleBilinear(synmap, { B, inH: GRID, inW: GRID, outH: ROI, outW: ROI });
    const prior = s.prior(up, top, rows, support.mu, o.priorSharpness);
    const points = Array.from({ length: B }, (_, b) => [...positives[b]!, ...negatives[b]!]);
    const request = { images: slices, points, prior, extent: support.extent };
    s.stage('decoder');
    // With a guide, the neighbour's mask also prompts the first decoding.
    const coarse = await this.backend.decoder.decode(guide ? { ...request, maskPrompt: guide } : request, s);

    // NRM.
    let final = coarse;
    if (o.refine.enabled) {
      s.stage('refine');
      const refined = this.bestComponents(s, coarse, up, B);
      s.stage('decoder');
      const second = await this.backend.decoder.decode({ ...request, maskPrompt: refined.mask }, s);
      s.stage('refine');
      // An empty refined mask stays empty: there was nothing to prompt the second pass with.
      final = this.bestComponents(s, s.keepRows(second, refined.found, rows), up, B).mask;
    }
    s.stage('read');
    const wanted = (k: keyof SliceDetail) => options.detail === true || (Array.isArray(options.detail) && options.detail.includes(k));
    const tensors = { featSam: sam, featDino: dino, confSam, confDino, synmap, coarse } as const;
    const perSlice = { featSam: Cs * CELLS, featDino: Cd * CELLS, confSam: CELLS, confDino: CELLS, synmap: CELLS, coarse: PIXELS };
    const keys = (Object.keys(tensors) as (keyof SliceDetail)[]).filter(wanted);
    const [finalHost, ...detail] = await Promise.all([s.read(final), ...keys.map((k) => s.read(tensors[k] as T<'f32'>))]);
    return Array.from({ length: B }, (_, b) => {
      const r: SliceResult = { positives: positives[b]!, negatives: negatives[b]!, final: finalHost.slice(b * PIXELS, (b + 1) * PIXELS) };
      keys.forEach((k, i) => { (r as unknown as Record<string, unknown>)[k] = detail[i]!.slice(b * perSlice[k], (b + 1) * perSlice[k]); });
      return r;
    });
  }

  /**
   * PSM on the 64×64 grid: the top γ1·Kp cells clustered into Kp positives; the band cells (a
   * seeded random γ2·Kn of them when there are more) clustered into Kn negatives. Points are
   * cell centres in ROI pixels. Returns also the moments of each row's top cells (the prior's
   * upper anchor), which stay on the stream.
   *
   * Random choices per slice: k-means++ of the positives draws from stream 3·seed, the band
   * subset from 3·seed + 1, k-means++ of the negatives from 3·seed + 2 (each seeded by
   * `options.seed`), so a slice's points do not depend on its batch.
   */
  async selectPoints(s: TensorStream, synmap: T<'f32'>, B: number, support: SupportEncoding, sliceSeeds: number[]): Promise<{ positives: PromptPoint[][]; negatives: PromptPoint[][]; top: T<'f32'> }> {
    const o = this.options.points;
    const seed = this.options.seed;
    const draws = (count: number, offset: number) => {
      const d = new Uint32Array(B * count);
      sliceSeeds.forEach((sliceSeed, b) => d.set(drawIntegers(createRng(seed, 3 * sliceSeed + offset), count), b * count));
      return s.upload(d, [B, count]);
    };
    const K1 = o.positiveCandidates;
    const top = s.topk(synmap, { B, N: CELLS }, K1);
    const topStats = s.moments(top.values, null, { B, N: K1 });
    const posCells = s.cellPoints(top.indices, null, { B, n: K1, G: GRID });
    const pos = s.kmeans(posCells.points, posCells.counts, { B, n: K1, k: o.positives }, draws(o.positives, 0), KMEANS_DEFAULT_MAX_ITERATIONS);

    let neg: { centroids: T<'f32'>; sizes: T<'u32'> } | null = null;
    if (o.negativeSource === 'band') {
      const lo = support.mu - o.alpha * support.sigma;
      const hi = support.mu - o.beta * support.sigma;
      const bounds = s.upload(Float32Array.from({ length: 2 * B }, (_, i) => (i % 2 ? hi : lo)), [B, 2]);
      const band = s.band(synmap, bounds, { B, N: CELLS });
      const sample = s.sampleRows(band.indices, band.counts, { B, n: CELLS, m: o.negativeCandidates }, draws(o.negativeCandidates, 1));
      const cells = s.cellPoints(sample.indices, sample.counts, { B, n: CELLS, G: GRID });
      neg = s.kmeans(cells.points, cells.counts, { B, n: CELLS, k: o.negatives }, draws(o.negatives, 2), KMEANS_DEFAULT_MAX_ITERATIONS);
    } else if (o.negativeSource === 'lowest') {
      const lowest = s.topk(s.synergy(synmap, synmap, { both: 0, sam: -1, dino: 0 }), { B, N: CELLS }, o.negativeCandidates);
      const cells = s.cellPoints(lowest.indices, null, { B, n: o.negativeCandidates, G: GRID });
      neg = s.kmeans(cells.points, cells.counts, { B, n: o.negativeCandidates, k: o.negatives }, draws(o.negatives, 2), KMEANS_DEFAULT_MAX_ITERATIONS);
    }
    const [pc, ps, nc, ns] = await Promise.all([s.read(pos.centroids), s.read(pos.sizes), neg ? s.read(neg.centroids) : null, neg ? s.read(neg.sizes) : null]);
    const positives = toPoints(pc, ps, B, o.positives, 1);
    const negatives = nc && ns ? toPoints(nc, ns, B, o.negatives, 0) : Array.from({ length: B }, () => []);
    return { positives, negatives, top: topStats };
  }

  /** NRM steps 1–2: opening, then the component with the best mean confidence. */
  bestComponents(s: TensorStream, masks: T<'mask'>, confidence256: T<'f32'>, B: number): { mask: T<'mask'>; found: T<'u32'> } {
    const r = this.options.refine;
    const shape = { B, H: ROI, W: ROI };
    const element = { shape: r.openingShape, radius: r.openingRadius };
    const opened = s.morphology(s.morphology(masks, shape, 'erode', element), shape, 'dilate', element);
    return s.bestComponent(opened, confidence256, shape, r.connectivity);
  }

  /** NRM steps 1–2 for B ROI masks on the host (a convenience around the stream form). */
  async refineMasks(masks: Uint8Array[], confidence256: Float32Array): Promise<Uint8Array[]> {
    const B = masks.length;
    if (B === 0) return [];
    return this.kernels.chain('refine', async (s) => {
      const all = new Uint8Array(B * PIXELS);
      masks.forEach((m, b) => all.set(m, b * PIXELS));
      const best = this.bestComponents(s, s.upload(all, [B, PIXELS]), s.upload(confidence256.subarray(0, B * PIXELS), [B, PIXELS]), B);
      const host = await s.read(best.mask);
      return masks.map((_, b) => host.slice(b * PIXELS, (b + 1) * PIXELS));
    });
  }
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
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  });
  return x1 < 0 ? { width: 0, height: 0, area: 0 } : { width: x1 - x0 + 1, height: y1 - y0 + 1, area };
}
