/**
 * Every constant of the method as a named option, holding the paper's value or our documented
 * default, and the switches of the paper's ablation (Table 2).
 */
import { DEFAULT_CACHE_BYTES } from './cache.ts';

export interface SynergyOptions {
  /** δSD, δS, δD: weights of S^SAM ⊙ S^DINO, S^SAM and S^DINO; they sum to 1. Paper: 0.8, 0.1, 0.1. */
  both: number;
  sam: number;
  dino: number;
}

export interface PointSelectionOptions {
  /** Kp positive points (k-means centres of the top γ1·Kp cells). */
  positives: number;
  /** Kn negative points (k-means centres of a random γ2·Kn subset of the band). */
  negatives: number;
  /** γ1·Kp: how many top-ranked cells the positives are clustered from. */
  positiveCandidates: number;
  /** γ2·Kn: how many band cells are drawn for the negatives. */
  negativeCandidates: number;
  /** The band [μ − α·σ, μ − β·σ]. CHAOS-MRI: α = 0, β = −1.5; Synapse-CT: α = 1, β = −0.5. */
  alpha: number;
  beta: number;
  /**
   * Where negatives come from: 'band' (SynPo), 'lowest' (the least similar cells, as PerSAM
   * does: the ablation "without band negatives"), or 'none'.
   */
  negativeSource: 'band' | 'lowest' | 'none';
}

export interface RefineOptions {
  /** NRM on or off (the ablation "without NRM" keeps the coarse mask). */
  enabled: boolean;
  /** Opening structuring element, in ROI pixels. */
  openingShape: 'square' | 'disc';
  openingRadius: number;
  connectivity: 4 | 8;
}

/**
 * The propagation pass: the slices of an organ's range are segmented in order outward from an
 * anchor, the slice with the largest mask of its own (looked for among every `anchorStride`-th
 * slice), each guided by its already-segmented neighbour's mask: the fused confidence is lowered by up to `weight` away from
 * that mask (blurred by `sigma` grid cells), and the mask prompts the decoder. Query labels are
 * never used: it stays one-shot. On by default (it gains on the tuning folds: scripts/tune/README.md);
 * `enabled: false` is the paper's protocol, each slice judged alone. Only volumes propagate
 * (segmentOrgans, evaluate); Synpo.segment on its own slices never does.
 */
export interface PropagationOptions {
  enabled: boolean;
  weight: number;
  sigma: number;
  /**
   * A slice whose per-slice mask already agrees with its neighbour's final mask (Dice above this)
   * keeps it and is not segmented again: the pass then corrects only the slices that disagree
   * with their neighbours, which saves most of a large organ's rows (0.9: 50 of 71 slices
   * segmented again on the bench's CHAOS volume, a third less time spent propagating; the masks
   * change, see scripts/tune/README.md). 1 (the default): every slice is segmented again.
   */
  agreement: number;
  /**
   * Where the anchor is looked for: only every `anchorStride`-th slice of an organ's range is
   * segmented on its own first (the rest once, by the pass), and the largest of their masks is
   * the anchor. 8 (the default, chosen on the tuning folds) makes propagation cost about a tenth
   * more than the per-slice pass instead of nearly twice; 1 segments every slice on its own first
   * (as an agreement below 1 always does: it compares every slice's own mask). See
   * scripts/tune/README.md.
   */
  anchorStride: number;
}

/**
 * The atlas (atlas.ts): where a job brings one, the fused confidence is lowered by up to `weight`
 * away from the support's organ carried onto the query slice (blurred by `sigma` grid cells), as
 * the propagation pass's guide lowers it. Tuned on the tuning folds (scripts/tune/README.md).
 */
export interface AtlasOptions {
  weight: number;
  sigma: number;
  /**
   * Cells where the blurred atlas reaches this share of its peak lose nothing: a large organ's
   * warped outline, a few cells off, does not cut it (1: the propagation guide's ramp).
   */
  plateau: number;
  /**
   * How much a large organ is enlarged before it becomes the atlas (organGrowth in atlas.ts: a
   * liver by 0.5–1.2 times this, a kidney or a spleen by a few hundredths of it); applied where
   * the atlas is made.
   */
  growth: number;
  /**
   * The atlas also moves the position encoder's cue (where the encoder has position channels):
   * a job's support prototype then points where the organ is carried on the query.
   */
  position: boolean;
}

export interface SynpoOptions {
  /** Which confidence maps enter the fusion: both (SynPo), or one encoder only (ablation). */
  encoders: 'both' | 'sam' | 'dino';
  synergy: SynergyOptions;
  points: PointSelectionOptions;
  refine: RefineOptions;
  /**
   * The fused confidence becomes the decoder's prior through a logistic centred between the
   * negatives' mean μ and the mean of the top-ranked cells, with this many steps across that gap.
   */
  priorSharpness: number;
  /** The propagation pass along a query volume (on by default; off: the paper's per-slice protocol). */
  propagation: PropagationOptions;
  /** How a job's atlas weighs on the fused confidence. */
  atlas: AtlasOptions;
  /** Seed for k-means++ and the band subset: the same seed gives the same points. */
  seed: number;
  /**
   * Query slices per batch through the kernels; 'auto' chooses from the device's limits (as many
   * as its largest binding holds, up to 32) and 8 on the CPU. Results do not depend on it.
   */
  batchSize: number | 'auto';
  /**
   * Bytes of slice encodings kept for reuse on the CPU path (a slice queried again for another
   * organ is not encoded twice); least recently used out first. Default 2 GiB.
   */
  cacheBytes: number;
}

export const PAPER_SYNERGY: SynergyOptions = { both: 0.8, sam: 0.1, dino: 0.1 };

/** The paper's best bands per dataset. */
export const PAPER_BANDS = {
  'chaos-mri': { alpha: 0, beta: -1.5 },
  'synapse-ct': { alpha: 1, beta: -0.5 },
} as const;

export const DEFAULT_OPTIONS: SynpoOptions = {
  encoders: 'both',
  synergy: PAPER_SYNERGY,
  // Kp, Kn, γ1, γ2 are not in the paper; IPSeg's 32 candidates clustered into 4 points.
  points: { positives: 4, negatives: 4, positiveCandidates: 32, negativeCandidates: 32, ...PAPER_BANDS['chaos-mri'], negativeSource: 'band' },
  refine: { enabled: true, openingShape: 'disc', openingRadius: 2, connectivity: 8 },
  priorSharpness: 8,
  propagation: { enabled: true, weight: 0.15, sigma: 4, agreement: 1, anchorStride: 8 },
  atlas: { weight: 0.4, sigma: 4, plateau: 0.5, growth: 1.8, position: true },
  seed: 0,
  batchSize: 'auto',
  cacheBytes: DEFAULT_CACHE_BYTES / 2,
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };
export type SynpoOptionsInput = DeepPartial<SynpoOptions>;

export function resolveOptions(input: SynpoOptionsInput = {}): SynpoOptions {
  const o: SynpoOptions = {
    ...DEFAULT_OPTIONS,
    ...input,
    synergy: { ...DEFAULT_OPTIONS.synergy, ...input.synergy },
    points: { ...DEFAULT_OPTIONS.points, ...input.points },
    refine: { ...DEFAULT_OPTIONS.refine, ...input.refine },
    propagation: { ...DEFAULT_OPTIONS.propagation, ...input.propagation },
    atlas: { ...DEFAULT_OPTIONS.atlas, ...input.atlas },
  } as SynpoOptions;
  const pr = o.propagation;
  if (!(pr.weight >= 0) || !(pr.sigma > 0) || !(pr.agreement >= 0 && pr.agreement <= 1) || !(Number.isInteger(pr.anchorStride) && pr.anchorStride >= 1))
    throw new RangeError(`propagation needs weight ≥ 0, sigma > 0, agreement in [0, 1] and anchorStride a positive integer, got ${JSON.stringify(pr)}`);
  if (
    !(o.atlas.weight >= 0) ||
    !(o.atlas.sigma > 0) ||
    !(o.atlas.plateau > 0 && o.atlas.plateau <= 1) ||
    !(o.atlas.growth >= 0) ||
    typeof o.atlas.position !== 'boolean'
  )
    throw new RangeError(`atlas needs weight ≥ 0, sigma > 0, plateau in (0, 1], growth ≥ 0 and position true or false, got ${JSON.stringify(o.atlas)}`);
  const s = o.synergy;
  if (!(o.cacheBytes >= 0)) throw new RangeError(`cacheBytes must be a number of bytes ≥ 0, got ${o.cacheBytes}`);
  if (Math.abs(s.both + s.sam + s.dino - 1) > 1e-6) throw new RangeError(`synergy weights must sum to 1, got ${s.both} + ${s.sam} + ${s.dino}`);
  for (const [k, v] of Object.entries({
    positives: o.points.positives,
    negatives: o.points.negatives,
    positiveCandidates: o.points.positiveCandidates,
    negativeCandidates: o.points.negativeCandidates,
    ...(o.batchSize !== 'auto' && { batchSize: o.batchSize }),
  })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  return o;
}
