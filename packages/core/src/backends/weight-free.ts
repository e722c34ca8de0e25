/**
 * The weight-free backend: SynPo's three models replaced by classical algorithms in the same
 * roles, all running on the kernels (GPU or CPU references).
 *  - appearance encoder (DINOv2's "semantic" role): local mean and local standard deviation of
 *    the intensity at σ = 1…16 px, pooled 4×4 onto the 64×64 grid, each channel standardised;
 *  - position encoder (SAM's "absolute spatial cue" role): the same appearance channels, scaled
 *    down, plus absolute-position channels (x, y and Fourier features);
 *  - promptable decoder: a random walker with priors on the slice at half resolution, seeded by
 *    discs at the points, bounded to a box around the positives, with the fused confidence (and
 *    NRM's mask prompt) as the prior; its probability becomes a mask whose area follows the
 *    support organ's (a shape prior: the walker alone under-fills large organs and over-fills
 *    small ones), within a clamped threshold range.
 *
 * The defaults were chosen on the tuning folds only (CHAOS fold 0, SABS fold 0; scripts/tune).
 */
import { HostTensor, ShapeError, type T, type TensorStream } from '@synpo/gpu';
import {
  appearance,
  areaThreshold,
  decoderInputs,
  positionChannels,
  promptRows,
  randomWalker,
  stackPosition,
  threshold,
  upsampleBilinear,
} from '@synpo/gpu/kernels';
import { CELLS, GRID, ROI, type Backend, type DecodeBatch, type FeatureEncoder, type PromptDecoder, type SliceBatch } from '../backend.ts';

export interface WeightFreeOptions {
  /** Blur scales of the appearance channels, in ROI pixels. */
  sigmas: number[];
  /** The appearance blurs run on the slice area-averaged by this factor (see AppearanceSpec). */
  prePool: number;
  /** Fourier frequencies of the position channels. */
  frequencies: number[];
  /** Weight of the position channels against the (unit-variance) appearance channels. */
  positionWeight: number;
  /** Weight of the appearance channels inside the position encoder. */
  appearanceInPosition: number;
  /** Random walker: edge contrast β, prior weight γ, CG cap and tolerance. */
  beta: number;
  gamma: number;
  maxIterations: number;
  tolerance: number;
  /** Decoder resolution as a divisor of the ROI (2: 128×128). */
  decoderScale: number;
  /** Radius of each seed disc, in decoder pixels. */
  seedRadius: number;
  /**
   * The walk is bounded to a box: the positives' box, grown to `extentFactor` × the support
   * organ's extent around the positives' centre (when the request gives it), plus
   * `boundMargin` ROI pixels and `boundMarginFactor` × the positives' spread. Outside is
   * background.
   */
  boundMargin: number;
  boundMarginFactor: number;
  extentFactor: number;
  /** Weight of NRM's mask prompt in the prior (the rest is the confidence prior). */
  maskPromptWeight: number;
  /** Pixels whose prior is below this are background seeds (confidence far under the organ's). */
  backgroundPrior: number;
  /**
   * The mask's target area as a multiple of the support organ's area; 0 decides at 0.5 instead.
   * The threshold that reaches the target is clamped to `areaRange`.
   */
  areaFactor: number;
  areaRange: [number, number];
}

export const WEIGHT_FREE_DEFAULTS: WeightFreeOptions = {
  sigmas: [1, 2, 4, 8, 16],
  prePool: 2,
  frequencies: [1, 2, 4],
  positionWeight: 1.5,
  appearanceInPosition: 0.5,
  beta: 130,
  gamma: 0.05,
  maxIterations: 300,
  tolerance: 1e-3,
  decoderScale: 2,
  seedRadius: 2,
  boundMargin: 12,
  boundMarginFactor: 0.5,
  extentFactor: 1.2,
  maskPromptWeight: 0.5,
  backgroundPrior: 0.05,
  areaFactor: 1.3,
  areaRange: [0.2, 0.7],
};

class AppearanceEncoder implements FeatureEncoder {
  readonly name = 'weight-free appearance';
  readonly role = 'dino' as const;
  readonly channels: number;
  // The position encoder reuses these channels: results are kept per stream and input tensor. Per
  // stream, because a tensor can outlive its chain (a volume's resident slices) while the result
  // is released with it: a chain run again (speculation) must compute its own.
  private readonly results = new WeakMap<TensorStream, WeakMap<T<'f32'>, T<'f32'>>>();
  constructor(private readonly o: WeightFreeOptions) {
    this.channels = 2 * o.sigmas.length;
  }
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    let mine = this.results.get(s);
    if (!mine) this.results.set(s, (mine = new WeakMap()));
    let result = mine.get(slices.tensor);
    if (!result) {
      result = s.run(appearance, { slices: slices.tensor }, { B, H: ROI, W: ROI, sigmas: this.o.sigmas, pool: ROI / GRID, prePool: this.o.prePool });
      mine.set(slices.tensor, result);
    }
    return result;
  }
}

/** Owner of the resident position channels on each device. */
const POSITION_CHANNELS = {};

class PositionEncoder implements FeatureEncoder {
  readonly name = 'weight-free position';
  readonly role = 'sam' as const;
  readonly channels: number;
  private readonly position: HostTensor<'f32'>;
  constructor(
    private readonly o: WeightFreeOptions,
    private readonly appearance: AppearanceEncoder,
  ) {
    const channels = positionChannels(GRID, GRID, o.frequencies).map((v) => v * o.positionWeight);
    this.position = new HostTensor('f32', [channels.length / CELLS, CELLS], channels);
    this.channels = appearance.channels + this.position.shape[0]!;
  }
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    const look = await this.appearance.encode(slices, B, s);
    // The position channels are constant: uploaded once per device (and configuration), not once
    // per batch, and shared by every backend with the same settings.
    const position = s.resident(POSITION_CHANNELS, `${this.o.frequencies.join(',')}:${this.o.positionWeight}`, () => this.position);
    const shape = { B, C: this.appearance.channels, N: CELLS, Cp: this.position.shape[0]!, weight: this.o.appearanceInPosition };
    return s.run(stackPosition, { appearance: look, position }, shape);
  }

  /** The prototype's position channels (its last ones) replaced by their mean over `cells`, rescaled to the length they had. */
  placePrototype(prototype: Float32Array, cells: Float32Array): Float32Array {
    if (prototype.length !== this.channels || cells.length !== CELLS) {
      throw new ShapeError(
        'weight-free',
        `placePrototype takes a ${this.channels}-channel prototype and ${CELLS} cell weights, got ${prototype.length} and ${cells.length}`,
      );
    }
    let total = 0;
    for (const w of cells) total += w;
    if (!(total > 0)) return prototype;
    const Cp = this.position.shape[0]!;
    const first = this.channels - Cp;
    const channels = this.position.data;
    const mean = new Float64Array(Cp);
    let before = 0;
    let after = 0;
    for (let k = 0; k < Cp; k++) {
      let sum = 0;
      for (let c = 0; c < CELLS; c++) sum += cells[c]! * channels[k * CELLS + c]!;
      mean[k] = sum / total;
      after += mean[k]! ** 2;
      before += prototype[first + k]! ** 2;
    }
    const out = prototype.slice();
    const scale = Math.sqrt(before / Math.max(after, 1e-12));
    for (let k = 0; k < Cp; k++) out[first + k] = mean[k]! * scale;
    return out;
  }
}

class RandomWalkerDecoder implements PromptDecoder {
  readonly name = 'weight-free random walker';
  constructor(private readonly o: WeightFreeOptions) {}

  async decode(batch: DecodeBatch, s: TensorStream): Promise<T<'mask'>> {
    const f = this.o.decoderScale;
    const side = ROI / f;
    const { B, clusters, extents } = batch;
    // Per row: the box that bounds the walk, then the points, built on the stream from PSM's
    // centres (box.wgsl), so the points never visit the host on the way to the walk.
    const Kp = clusters.positives.k;
    const Kn = clusters.negatives?.k ?? 0;
    const sizes = extents && s.upload(Float32Array.from(extents.flatMap((e) => [e.width, e.height])), [B, 2]);
    const negatives = Kn ? clusters.negatives : null;
    const prompts = s.run(
      promptRows,
      {
        posCentroids: clusters.positives.centroids,
        posSizes: clusters.positives.sizes,
        negCentroids: negatives?.centroids ?? null,
        negSizes: negatives?.sizes ?? null,
        extents: sizes ?? null,
      },
      { B, Kp, Kn, cell: ROI / GRID, margin: this.o.boundMargin, marginFactor: this.o.boundMarginFactor, extentFactor: this.o.extentFactor },
    );
    const P = Kn + Kp;
    const inputs = s.run(
      decoderInputs,
      { image: batch.images.tensor, prior: batch.prior ?? null, maskPrompt: batch.maskPrompt ?? null, prompts },
      { B, H: ROI, W: ROI, P, factor: f, maskWeight: this.o.maskPromptWeight, background: this.o.backgroundPrior, radius: this.o.seedRadius },
    );
    const probability = await s.run(randomWalker, inputs, {
      ...{ B, H: side, W: side },
      ...{ beta: this.o.beta, gamma: this.o.gamma, maxIterations: this.o.maxIterations, tolerance: this.o.tolerance },
    });
    // Back to the ROI: bilinear, then the decision: each row's support organ's area (times the
    // factor) within the threshold range, or 0.5 where no area is known.
    const up = s.run(upsampleBilinear, { maps: probability }, { B, inH: side, inW: side, outH: ROI, outW: ROI });
    const areas = Float32Array.from({ length: B }, (_, b) => this.o.areaFactor * (extents?.[b]?.area ?? 0));
    if (!areas.some((a) => a > 0)) return s.run(threshold, { values: up }, 0.5);
    const [lo, hi] = this.o.areaRange;
    return s.run(areaThreshold, { values: up, targets: s.upload(areas, [B]) }, { B, P: ROI * ROI, lo, hi, fallback: 0.5 });
  }
}

export function weightFreeBackend(options: Partial<WeightFreeOptions> = {}): Backend {
  const o = { ...WEIGHT_FREE_DEFAULTS, ...options };
  const dino = new AppearanceEncoder(o);
  return { name: 'weight-free', dino, sam: new PositionEncoder(o, dino), decoder: new RandomWalkerDecoder(o) };
}
