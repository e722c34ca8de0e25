/**
 * The weight-free backend: SynPo's three models replaced by classical algorithms in the same
 * roles, all running on the kernels (GPU or CPU references).
 *  - appearance encoder (DINOv2's "semantic" role): local mean and local standard deviation of
 *    the intensity at σ = 1…16 px, pooled 4×4 onto the 64×64 grid, each channel standardised;
 *  - position encoder (SAM's "absolute spatial cue" role): the same appearance channels, scaled
 *    down, plus absolute-position channels (x, y and Fourier features);
 *  - promptable decoder: a random walker with priors on the slice at half resolution, seeded by
 *    discs at the points, bounded to a box around the positives, with the fused confidence (and
 *    NRM's mask prompt) as the prior.
 */
import { positionChannels, SEED_BACKGROUND, SEED_FOREGROUND, shrinkReference, type Kernels } from '@synpo/gpu';
import { CELLS, GRID, PIXELS, ROI, type Backend, type DecodeRequest, type FeatureEncoder, type PromptDecoder } from '../backend.ts';

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
}

export const WEIGHT_FREE_DEFAULTS: WeightFreeOptions = {
  sigmas: [1, 2, 4, 8, 16],
  prePool: 2,
  frequencies: [1, 2, 4],
  positionWeight: 2,
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
  backgroundPrior: 0.15,
};

class AppearanceEncoder implements FeatureEncoder {
  readonly name = 'weight-free appearance';
  readonly role = 'dino' as const;
  readonly channels: number;
  // The position encoder reuses these channels: the last call's result is kept for the same input.
  private last: { slices: Float32Array; result: Promise<Float32Array> } | null = null;
  constructor(private readonly o: WeightFreeOptions) {
    this.channels = 2 * o.sigmas.length;
  }
  encode(slices: Float32Array, B: number, kernels: Kernels): Promise<Float32Array> {
    if (this.last?.slices !== slices) {
      this.last = { slices, result: kernels.appearance(slices, { B, H: ROI, W: ROI }, { sigmas: this.o.sigmas, pool: ROI / GRID, prePool: this.o.prePool }) };
    }
    return this.last.result;
  }
}

class PositionEncoder implements FeatureEncoder {
  readonly name = 'weight-free position';
  readonly role = 'sam' as const;
  readonly channels: number;
  private readonly position: Float32Array;
  constructor(private readonly o: WeightFreeOptions, private readonly appearance: AppearanceEncoder) {
    this.position = positionChannels(GRID, GRID, o.frequencies).map((v) => v * o.positionWeight);
    this.channels = appearance.channels + this.position.length / CELLS;
  }
  async encode(slices: Float32Array, B: number, kernels: Kernels): Promise<Float32Array> {
    const look = await this.appearance.encode(slices, B, kernels);
    const Ca = this.appearance.channels;
    const out = new Float32Array(B * this.channels * CELLS);
    for (let b = 0; b < B; b++) {
      const o = b * this.channels * CELLS;
      const a = look.subarray(b * Ca * CELLS, (b + 1) * Ca * CELLS);
      for (let i = 0; i < a.length; i++) out[o + i] = a[i]! * this.o.appearanceInPosition;
      out.set(this.position, o + Ca * CELLS);
    }
    return out;
  }
}

/** Area average of a ROI×ROI map down by an integer factor. */
const shrink = (map: ArrayLike<number>, factor: number): Float32Array =>
  shrinkReference(Float32Array.from(map), { B: 1, H: ROI, W: ROI }, factor);

class RandomWalkerDecoder implements PromptDecoder {
  readonly name = 'weight-free random walker';
  constructor(private readonly o: WeightFreeOptions) {}

  async decode(requests: DecodeRequest[], kernels: Kernels): Promise<Uint8Array[]> {
    const f = this.o.decoderScale;
    const side = ROI / f;
    const plane = side * side;
    const B = requests.length;
    if (B === 0) return [];
    const image = new Float32Array(B * plane);
    const seeds = new Uint8Array(B * plane);
    const prior = new Float32Array(B * plane);
    requests.forEach((req, b) => {
      image.set(shrink(req.image, f), b * plane);
      const p = req.prior ? shrink(req.prior, f) : new Float32Array(plane).fill(0.5);
      if (req.maskPrompt) {
        const m = shrink(req.maskPrompt, f);
        const w = this.o.maskPromptWeight;
        for (let i = 0; i < plane; i++) p[i] = (1 - w) * p[i]! + w * m[i]!;
      }
      prior.set(p, b * plane);
      const s = seeds.subarray(b * plane, (b + 1) * plane);
      if (req.prior || req.maskPrompt) for (let i = 0; i < plane; i++) if (p[i]! < this.o.backgroundPrior) s[i] = SEED_BACKGROUND;
      const positives = req.points.filter((q) => q.label === 1);
      if (positives.length > 0) {
        // Bound the walk: far outside the positives' box is background.
        const xs = positives.map((q) => q.x);
        const ys = positives.map((q) => q.y);
        let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
        const mx = this.o.boundMargin + this.o.boundMarginFactor * (x1 - x0);
        const my = this.o.boundMargin + this.o.boundMarginFactor * (y1 - y0);
        if (req.extent && this.o.extentFactor > 0) {
          const cx = xs.reduce((a, v) => a + v, 0) / xs.length;
          const cy = ys.reduce((a, v) => a + v, 0) / ys.length;
          const hw = (this.o.extentFactor * req.extent.width) / 2;
          const hh = (this.o.extentFactor * req.extent.height) / 2;
          [x0, x1, y0, y1] = [Math.min(x0, cx - hw), Math.max(x1, cx + hw), Math.min(y0, cy - hh), Math.max(y1, cy + hh)];
        }
        for (let y = 0; y < side; y++) {
          for (let x = 0; x < side; x++) {
            const X = (x + 0.5) * f;
            const Y = (y + 0.5) * f;
            if (X < x0 - mx || X > x1 + mx || Y < y0 - my || Y > y1 + my) s[y * side + x] = SEED_BACKGROUND;
          }
        }
      }
      const r = this.o.seedRadius;
      // Negatives first, so a positive that shares a cell with a negative wins.
      for (const q of [...req.points].sort((a, b) => a.label - b.label)) {
        const cx = Math.floor(q.x / f);
        const cy = Math.floor(q.y / f);
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            const x = cx + dx;
            const y = cy + dy;
            if (dx * dx + dy * dy > r * r || x < 0 || y < 0 || x >= side || y >= side) continue;
            s[y * side + x] = q.label === 1 ? SEED_FOREGROUND : SEED_BACKGROUND;
          }
        }
      }
    });
    const { probability } = await kernels.randomWalker(image, seeds, prior, { B, H: side, W: side }, {
      beta: this.o.beta, gamma: this.o.gamma, maxIterations: this.o.maxIterations, tolerance: this.o.tolerance,
    });
    // Back to the ROI: bilinear, then the 0.5 decision.
    const up = await kernels.upsampleBilinear(probability, { B, inH: side, inW: side, outH: ROI, outW: ROI });
    return requests.map((_, b) => Uint8Array.from(up.subarray(b * PIXELS, (b + 1) * PIXELS), (v) => (v > 0.5 ? 1 : 0)));
  }
}

export function weightFreeBackend(options: Partial<WeightFreeOptions> = {}): Backend {
  const o = { ...WEIGHT_FREE_DEFAULTS, ...options };
  const dino = new AppearanceEncoder(o);
  return { name: 'weight-free', dino, sam: new PositionEncoder(o, dino), decoder: new RandomWalkerDecoder(o) };
}
