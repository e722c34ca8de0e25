/**
 * Every constant of the method as a named option, holding the paper's value or our documented
 * default (see ALGORITHM.md in the design notes and the README).
 */
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
}

export interface RefineOptions {
  /** Opening structuring element. */
  openingShape: 'square' | 'disc';
  openingRadius: number;
  connectivity: 4 | 8;
}

export interface SynpoOptions {
  synergy: SynergyOptions;
  points: PointSelectionOptions;
  refine: RefineOptions;
  /** Seed for k-means++ and the band subset: the same seed gives the same points. */
  seed: number;
}

export const PAPER_SYNERGY: SynergyOptions = { both: 0.8, sam: 0.1, dino: 0.1 };

/** The paper's best bands per dataset. */
export const PAPER_BANDS = {
  'chaos-mri': { alpha: 0, beta: -1.5 },
  'synapse-ct': { alpha: 1, beta: -0.5 },
} as const;

export const DEFAULT_OPTIONS: SynpoOptions = {
  synergy: PAPER_SYNERGY,
  // Kp, Kn, γ1, γ2 are not in the paper; IPSeg's 32 candidates clustered into 4 points.
  points: { positives: 4, negatives: 4, positiveCandidates: 32, negativeCandidates: 32, ...PAPER_BANDS['chaos-mri'] },
  refine: { openingShape: 'disc', openingRadius: 2, connectivity: 8 },
  seed: 0,
};
