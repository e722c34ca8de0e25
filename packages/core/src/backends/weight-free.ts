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
import { HostTensor, positionChannels, type T, type TensorStream } from '@synpo/gpu';
import { CELLS, GRID, ROI, type Backend, type OrganExtent, type DecodeBatch, type FeatureEncoder, type PromptDecoder, type PromptPoint, type SliceBatch } from '../backend.ts';

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
  // The position encoder reuses these channels: results are kept per input tensor.
  private readonly results = new WeakMap<T<'f32'>, T<'f32'>>();
  constructor(private readonly o: WeightFreeOptions) {
    this.channels = 2 * o.sigmas.length;
  }
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    let result = this.results.get(slices.tensor);
    if (!result) {
      result = s.appearance(slices.tensor, { B, H: ROI, W: ROI }, { sigmas: this.o.sigmas, pool: ROI / GRID, prePool: this.o.prePool });
      this.results.set(slices.tensor, result);
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
  constructor(private readonly o: WeightFreeOptions, private readonly appearance: AppearanceEncoder) {
    const channels = positionChannels(GRID, GRID, o.frequencies).map((v) => v * o.positionWeight);
    this.position = new HostTensor('f32', [channels.length / CELLS, CELLS], channels);
    this.channels = appearance.channels + this.position.shape[0]!;
  }
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    const look = await this.appearance.encode(slices, B, s);
    // The position channels are constant: uploaded once per device (and configuration), not once
    // per batch, and shared by every backend with the same settings.
    const position = s.resident(POSITION_CHANNELS, `${this.o.frequencies.join(',')}:${this.o.positionWeight}`, () => this.position);
    return s.stackPosition(look, position, { B, C: this.appearance.channels, N: CELLS }, this.position.shape[0]!, this.o.appearanceInPosition);
  }
}

class RandomWalkerDecoder implements PromptDecoder {
  readonly name = 'weight-free random walker';
  constructor(private readonly o: WeightFreeOptions) {}

  async decode(batch: DecodeBatch, s: TensorStream): Promise<T<'mask'>> {
    const f = this.o.decoderScale;
    const side = ROI / f;
    const B = batch.points.length;
    // Per slice: the box that bounds the walk, then the points (negatives first, so a positive
    // sharing a pixel with a negative wins): a few hundred bytes, built on the host.
    const P = Math.max(1, ...batch.points.map((p) => p.length));
    const prompts = new Float32Array(B * (1 + P) * 4);
    batch.points.forEach((points, b) => {
      const row = b * (1 + P) * 4;
      prompts.set(this.box(points, batch.extent), row);
      [...points].sort((a, c) => a.label - c.label).forEach((q, k) => prompts.set([q.x, q.y, q.label, 1], row + 4 * (1 + k)));
    });
    const inputs = s.decoderInputs(batch.images.tensor, batch.prior ?? null, batch.maskPrompt ?? null, s.upload(prompts, [B, 1 + P, 4]), { B, H: ROI, W: ROI }, P, {
      factor: f, maskWeight: this.o.maskPromptWeight, background: this.o.backgroundPrior, radius: this.o.seedRadius,
    });
    const probability = await s.randomWalker(inputs.image, inputs.seeds, inputs.prior, { B, H: side, W: side }, {
      beta: this.o.beta, gamma: this.o.gamma, maxIterations: this.o.maxIterations, tolerance: this.o.tolerance,
    });
    // Back to the ROI: bilinear, then the decision: the support organ's area (times the factor)
    // within the threshold range, or 0.5.
    const up = s.upsampleBilinear(probability, { B, inH: side, inW: side, outH: ROI, outW: ROI });
    const area = this.o.areaFactor * (batch.extent?.area ?? 0);
    if (!(area > 0)) return s.threshold(up, 0.5);
    const [lo, hi] = this.o.areaRange;
    return s.areaThreshold(up, s.upload(new Float32Array(B).fill(area), [B]), { B, P: ROI * ROI }, { lo, hi, fallback: 0.5 });
  }

  /**
   * The walk's bounds in ROI pixels, [x0, x1, y0, y1]: the positives' box, grown to the support
   * organ's extent around their centre and by the margins; none ([1, 0, 0, 0]) without positives.
   */
  private box(points: PromptPoint[], extent: OrganExtent | undefined): number[] {
    const positives = points.filter((q) => q.label === 1);
    if (positives.length === 0) return [1, 0, 0, 0];
    const xs = positives.map((q) => q.x);
    const ys = positives.map((q) => q.y);
    let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const mx = this.o.boundMargin + this.o.boundMarginFactor * (x1 - x0);
    const my = this.o.boundMargin + this.o.boundMarginFactor * (y1 - y0);
    if (extent && this.o.extentFactor > 0) {
      const cx = xs.reduce((a, v) => a + v, 0) / xs.length;
      const cy = ys.reduce((a, v) => a + v, 0) / ys.length;
      const hw = (this.o.extentFactor * extent.width) / 2;
      const hh = (this.o.extentFactor * extent.height) / 2;
      [x0, x1, y0, y1] = [Math.min(x0, cx - hw), Math.max(x1, cx + hw), Math.min(y0, cy - hh), Math.max(y1, cy + hh)];
    }
    return [x0 - mx, x1 + mx, y0 - my, y1 + my];
  }
}

export function weightFreeBackend(options: Partial<WeightFreeOptions> = {}): Backend {
  const o = { ...WEIGHT_FREE_DEFAULTS, ...options };
  const dino = new AppearanceEncoder(o);
  return { name: 'weight-free', dino, sam: new PositionEncoder(o, dino), decoder: new RandomWalkerDecoder(o) };
}
