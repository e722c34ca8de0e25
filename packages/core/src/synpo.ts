/**
 * SynPo on 2-D slices: CMSM (confidence maps of both encoders, Hadamard synergy, Gaussian model
 * of the negatives), PSM (positive points from the top of the fused map, negative points from
 * the band [μ − α·σ, μ − β·σ]), the decoder, and NRM (opening, best component by confidence,
 * a second decoder pass with the mask prompt, opening and best component again).
 * Every stage runs through `Kernels`, so the same code runs on the GPU or the CPU references.
 */
import { createRng, ShapeError, type Kernels } from '@synpo/gpu';
import { CELLS, GRID, PIXELS, ROI, type Backend, type PromptPoint } from './backend.ts';
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
  featSam: Float32Array;
  featDino: Float32Array;
  protoSam: Float32Array;
  protoDino: Float32Array;
  /** Fused confidence of the support's own background cells (one value per background cell). */
  synNeg: Float32Array;
  mu: number;
  sigma: number;
  /** The support organ's bounding-box size in ROI pixels. */
  extent: { width: number; height: number };
}

/** Everything SynPo computed for one query slice (the `--dump` files are made from this). */
export interface SliceResult {
  featSam: Float32Array;
  featDino: Float32Array;
  confSam: Float32Array;
  confDino: Float32Array;
  synmap: Float32Array;
  positives: PromptPoint[];
  negatives: PromptPoint[];
  coarse: Uint8Array;
  final: Uint8Array;
}

/** Encodings kept for reuse across supports (one slice is queried for every organ). */
const ENCODING_CACHE_SLICES = 512;

export class Synpo {
  readonly options: SynpoOptions;
  private readonly encodings = new Map<string, { sam: Float32Array; dino: Float32Array }>();

  constructor(readonly backend: Backend, readonly kernels: Kernels, options: SynpoOptionsInput = {}) {
    this.options = resolveOptions(options);
  }

  /** Encodes B ROI slices with both encoders. */
  async encode(slices: Float32Array, B: number): Promise<{ sam: Float32Array; dino: Float32Array }> {
    const [sam, dino] = await Promise.all([
      this.backend.sam.encode(slices, B, this.kernels),
      this.backend.dino.encode(slices, B, this.kernels),
    ]);
    return { sam, dino };
  }

  /** CMSM's support side: the grid mask, both prototypes, the negatives' μ and σ. */
  async prepareSupport(support: Support): Promise<SupportEncoding> {
    const k = this.kernels;
    if (support.image.length !== PIXELS || support.mask.length !== PIXELS) {
      throw new ShapeError('synpo', `a support is a ${ROI}×${ROI} slice with a mask of the same size`);
    }
    if (!support.mask.some((v) => v !== 0)) throw new ShapeError('synpo', 'the support mask is empty: the organ is not in the support slice');
    const maskGrid = await k.downsampleMask(support.mask, { B: 1, inH: ROI, inW: ROI, outH: GRID, outW: GRID });
    const { sam, dino } = await this.encode(support.image, 1);
    const protoSam = await k.prototype(sam, maskGrid, { B: 1, C: this.backend.sam.channels, N: CELLS });
    const protoDino = await k.prototype(dino, maskGrid, { B: 1, C: this.backend.dino.channels, N: CELLS });
    const negSam = await k.confidence(sam, protoSam, { B: 1, C: this.backend.sam.channels, N: CELLS });
    const negDino = await k.confidence(dino, protoDino, { B: 1, C: this.backend.dino.channels, N: CELLS });
    const fusedAll = await this.fuse(negSam, negDino);
    const background = maskGrid.map((v) => (v ? 0 : 1));
    const [stats] = await k.moments(fusedAll, background, { B: 1, N: CELLS });
    const synNeg = fusedAll.filter((_, i) => background[i] === 1);
    return { image: support.image, maskGrid, featSam: sam, featDino: dino, protoSam, protoDino, synNeg, mu: stats!.mean, sigma: stats!.std, extent: extentOf(support.mask) };
  }

  /** The Hadamard synergy, or one encoder's map alone (ablation). */
  private async fuse(sam: Float32Array, dino: Float32Array): Promise<Float32Array> {
    if (this.options.encoders === 'sam') return sam;
    if (this.options.encoders === 'dino') return dino;
    return this.kernels.synergy(sam, dino, this.options.synergy);
  }

  /**
   * Runs SynPo on B query slices ([B][ROI·ROI], in [0, 1]) against one prepared support.
   * `slices` names each query slice: it seeds that slice's random choices (so a slice gets the
   * same points whatever batch it is in) and, when given, keys an encoding cache, so a slice
   * queried again (for another organ) is not encoded twice.
   */
  async segment(support: SupportEncoding, queries: Float32Array, B: number, slices: readonly { seed: number; key?: string }[] = []): Promise<SliceResult[]> {
    const out: SliceResult[] = [];
    for (let b0 = 0; b0 < B; b0 += this.options.batchSize) {
      const nb = Math.min(this.options.batchSize, B - b0);
      const batch = queries.subarray(b0 * PIXELS, (b0 + nb) * PIXELS);
      const names = Array.from({ length: nb }, (_, i) => slices[b0 + i] ?? { seed: b0 + i });
      out.push(...(await this.segmentBatch(support, batch, nb, names)));
    }
    return out;
  }

  /** Both encodings of B slices, from the cache where their keys are known. */
  private async encodeKeyed(queries: Float32Array, B: number, keys: (string | undefined)[]): Promise<{ sam: Float32Array; dino: Float32Array }> {
    const missing = keys.map((key, b) => ({ key, b })).filter(({ key }) => key === undefined || !this.encodings.has(key));
    if (missing.length === B) {
      const fresh = await this.encode(queries, B);
      keys.forEach((key, b) => this.remember(key, fresh, b));
      return fresh;
    }
    const Cs = this.backend.sam.channels * CELLS;
    const Cd = this.backend.dino.channels * CELLS;
    const sam = new Float32Array(B * Cs);
    const dino = new Float32Array(B * Cd);
    if (missing.length > 0) {
      const batch = new Float32Array(missing.length * PIXELS);
      missing.forEach(({ b }, i) => batch.set(queries.subarray(b * PIXELS, (b + 1) * PIXELS), i * PIXELS));
      const fresh = await this.encode(batch, missing.length);
      missing.forEach(({ key }, i) => this.remember(key, fresh, i));
      missing.forEach(({ b }, i) => {
        sam.set(fresh.sam.subarray(i * Cs, (i + 1) * Cs), b * Cs);
        dino.set(fresh.dino.subarray(i * Cd, (i + 1) * Cd), b * Cd);
      });
    }
    keys.forEach((key, b) => {
      const hit = key === undefined ? undefined : this.encodings.get(key);
      if (hit && !missing.some((m) => m.b === b)) {
        sam.set(hit.sam, b * Cs);
        dino.set(hit.dino, b * Cd);
      }
    });
    return { sam, dino };
  }

  private remember(key: string | undefined, enc: { sam: Float32Array; dino: Float32Array }, b: number): void {
    if (key === undefined) return;
    const Cs = this.backend.sam.channels * CELLS;
    const Cd = this.backend.dino.channels * CELLS;
    if (this.encodings.size >= ENCODING_CACHE_SLICES) this.encodings.delete(this.encodings.keys().next().value!);
    this.encodings.set(key, { sam: enc.sam.slice(b * Cs, (b + 1) * Cs), dino: enc.dino.slice(b * Cd, (b + 1) * Cd) });
  }

  private async segmentBatch(support: SupportEncoding, queries: Float32Array, B: number, names: { seed: number; key?: string }[]): Promise<SliceResult[]> {
    const k = this.kernels;
    const o = this.options;
    const sliceSeeds = names.map((n) => n.seed);
    // CMSM, query side.
    const { sam, dino } = await this.encodeKeyed(queries, B, names.map((n) => n.key));
    const confSam = await k.confidence(sam, support.protoSam, { B, C: this.backend.sam.channels, N: CELLS });
    const confDino = await k.confidence(dino, support.protoDino, { B, C: this.backend.dino.channels, N: CELLS });
    const synmap = await this.fuse(confSam, confDino);

    // PSM.
    const { positives, negatives, topMean } = await this.selectPoints(synmap, B, support, sliceSeeds);

    // Decoder, with the fused confidence as a prior for decoders that take one.
    const up = await k.upsampleBilinear(synmap, { B, inH: GRID, inW: GRID, outH: ROI, outW: ROI });
    const priors = Array.from({ length: B }, (_, b) => this.prior(up.subarray(b * PIXELS, (b + 1) * PIXELS), support.mu, topMean[b]!));
    const image = (b: number) => queries.subarray(b * PIXELS, (b + 1) * PIXELS);
    const points = (b: number) => [...positives[b]!, ...negatives[b]!];
    const coarse = await this.backend.decoder.decode(
      Array.from({ length: B }, (_, b) => ({ image: image(b), points: points(b), prior: priors[b]!, extent: support.extent })),
      k,
    );

    // NRM.
    let final = coarse;
    if (o.refine.enabled) {
      const refined = await this.bestComponents(coarse, up);
      const again = refined.map((m, b) => ({ b, m })).filter(({ m }) => m.some((v) => v !== 0));
      // An empty refined mask stays empty: there is nothing to prompt the second pass with.
      const second = await this.backend.decoder.decode(again.map(({ b, m }) => ({ image: image(b), points: points(b), maskPrompt: m, prior: priors[b]!, extent: support.extent })), k);
      const secondByIndex = new Map(again.map(({ b }, i) => [b, second[i]!]));
      const prompted = refined.map((m, b) => secondByIndex.get(b) ?? m);
      final = await this.bestComponents(prompted, up);
    }
    return Array.from({ length: B }, (_, b) => ({
      featSam: sam.subarray(b * this.backend.sam.channels * CELLS, (b + 1) * this.backend.sam.channels * CELLS),
      featDino: dino.subarray(b * this.backend.dino.channels * CELLS, (b + 1) * this.backend.dino.channels * CELLS),
      confSam: confSam.subarray(b * CELLS, (b + 1) * CELLS),
      confDino: confDino.subarray(b * CELLS, (b + 1) * CELLS),
      synmap: synmap.subarray(b * CELLS, (b + 1) * CELLS),
      positives: positives[b]!,
      negatives: negatives[b]!,
      coarse: coarse[b]!,
      final: final[b]!,
    }));
  }

  /**
   * PSM on the 64×64 grid: the top γ1·Kp cells clustered into Kp positives; the band cells (a
   * seeded random γ2·Kn of them when there are more) clustered into Kn negatives. Points are
   * cell centres in ROI pixels.
   */
  async selectPoints(synmap: Float32Array, B: number, support: SupportEncoding, sliceSeeds: number[]) {
    const k = this.kernels;
    const o = this.options.points;
    const seed = this.options.seed;
    const cell = ROI / GRID;
    const toXY = (idx: ArrayLike<number>) => Float32Array.from({ length: 2 * idx.length }, (_, t) => (t % 2 ? Math.floor(idx[t >> 1]! / GRID) : idx[t >> 1]! % GRID));
    const toPoints = (centroids: Float32Array, label: 0 | 1): PromptPoint[] =>
      Array.from({ length: centroids.length / 2 }, (_, i) => ({
        x: Math.round(centroids[2 * i]!) * cell + cell / 2,
        y: Math.round(centroids[2 * i + 1]!) * cell + cell / 2,
        label,
      }));
    const top = await k.topk(synmap, { B, N: CELLS }, o.positiveCandidates);
    const pos = await k.kmeans(top.map((t) => toXY(t.indices)), { k: o.positives, seed });
    const positives = pos.map((r) => toPoints(r.centroids, 1));
    const topMean = top.map((t) => t.values.reduce((a, v) => a + v, 0) / t.values.length);

    let candidates: Uint32Array[];
    if (o.negativeSource === 'band') {
      const lo = support.mu - o.alpha * support.sigma;
      const hi = support.mu - o.beta * support.sigma;
      const band = await k.band(synmap, Array.from({ length: B }, () => [lo, hi] as [number, number]), { B, N: CELLS });
      candidates = band.map((cells, b) => sampleSubset(cells, o.negativeCandidates, seed, sliceSeeds[b]!));
    } else if (o.negativeSource === 'lowest') {
      const negated = synmap.map((v) => -v);
      candidates = (await k.topk(negated, { B, N: CELLS }, o.negativeCandidates)).map((t) => t.indices);
    } else {
      candidates = Array.from({ length: B }, () => new Uint32Array(0));
    }
    const rows = candidates.map((c) => toXY(c));
    const withPoints = rows.map((r, b) => ({ r, b })).filter(({ r }) => r.length > 0);
    const neg = withPoints.length ? await k.kmeans(withPoints.map(({ r }) => r), { k: o.negatives, seed: seed + 1 }) : [];
    const negatives: PromptPoint[][] = Array.from({ length: B }, () => []);
    withPoints.forEach(({ b }, i) => { negatives[b] = toPoints(neg[i]!.centroids, 0); });
    return { positives, negatives, topMean };
  }

  /** The fused map as a foreground probability: a logistic between μ and the top cells' mean. */
  private prior(map: Float32Array, mu: number, top: number): Float32Array {
    const mid = (mu + top) / 2;
    const scale = Math.max((top - mu) / this.options.priorSharpness, 1e-6);
    return map.map((v) => 1 / (1 + Math.exp(-(v - mid) / scale)));
  }

  /** NRM steps 1–2 for B ROI masks: opening, then the component with the best mean confidence. */
  async bestComponents(masks: Uint8Array[], confidence256: Float32Array): Promise<Uint8Array[]> {
    const B = masks.length;
    if (B === 0) return [];
    const k = this.kernels;
    const r = this.options.refine;
    const shape = { B, H: ROI, W: ROI };
    const element = { shape: r.openingShape, radius: r.openingRadius };
    const all = new Uint8Array(B * PIXELS);
    masks.forEach((m, b) => all.set(m, b * PIXELS));
    const opened = await k.morphology(await k.morphology(all, shape, 'erode', element), shape, 'dilate', element);
    const components = await k.components(opened, confidence256.subarray(0, B * PIXELS), shape, r.connectivity);
    return components.map(({ labels, components: list }) => {
      if (list.length === 0) return new Uint8Array(PIXELS);
      const best = list.reduce((a, c) => (c.mean > a.mean ? c : a));
      return Uint8Array.from(labels, (l) => (l === best.label ? 1 : 0));
    });
  }
}

/** Width and height of a ROI mask's bounding box. */
function extentOf(mask: Uint8Array): { width: number; height: number } {
  let [x0, x1, y0, y1] = [ROI, -1, ROI, -1];
  mask.forEach((v, i) => {
    if (!v) return;
    const x = i % ROI;
    const y = (i - x) / ROI;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  });
  return x1 < 0 ? { width: 0, height: 0 } : { width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** A seeded random subset of `count` cells (all of them when there are fewer), in ascending order. */
export function sampleSubset(cells: Uint32Array, count: number, seed: number, stream: number): Uint32Array {
  if (cells.length <= count) return cells;
  const rng = createRng(seed, stream);
  const pool = Array.from(cells);
  // Partial Fisher–Yates: the first `count` entries become the sample.
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return Uint32Array.from(pool.slice(0, count).sort((a, b) => a - b));
}
