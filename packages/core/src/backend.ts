/**
 * The two seams between SynPo and its models. The paper fills them with DINOv2 and SAM 2.1; the
 * weight-free backend (backends/weight-free.ts) fills them with classical algorithms in the same
 * roles, so the whole method runs with no model files.
 */
import type { T, TensorStream } from '@synpo/gpu';

/** The side of the ROI every slice is brought to, and of the feature grid. */
export const ROI = 256;
export const GRID = 64;
export const CELLS = GRID * GRID;
export const PIXELS = ROI * ROI;

/** The paper's two roles: DINOv2 gives semantics, SAM absolute spatial cues. */
export type EncoderRole = 'dino' | 'sam';

/** B ROI slices in [0, 1], on the host and as a tensor of the stream that runs the batch. */
export interface SliceBatch {
  host: Float32Array;
  /** [B][ROI·ROI] */
  tensor: T<'f32'>;
}

export interface FeatureEncoder {
  readonly name: string;
  readonly role: EncoderRole;
  readonly channels: number;
  /**
   * B slices → B channel-first grids [B][C][GRID·GRID] as a tensor of `stream`: an encoder that
   * runs on kernels writes them there directly; one that runs elsewhere (ONNX Runtime) uploads
   * its output once.
   */
  encode(slices: SliceBatch, B: number, stream: TensorStream): Promise<T<'f32'>>;
  /**
   * Optional, for an encoder with explicit position channels: a support prototype (its `encode`
   * channels averaged over the support organ) with its spatial cue moved to `cells` ([GRID·GRID]
   * weights on the query's grid, e.g. the atlas prior's organ): the position channels replaced by
   * their weighted mean, at the length they had; the other channels as they were.
   */
  placePrototype?(prototype: Float32Array, cells: Float32Array): Float32Array;
}

/** A prompt point in ROI pixel coordinates; label 1 positive, 0 negative. */
export interface PromptPoint {
  x: number;
  y: number;
  label: 0 | 1;
}

export interface DecodeRequest {
  /** The ROI×ROI slice in [0, 1]. */
  image: Float32Array;
  points: PromptPoint[];
  /** NRM's second pass: the refined mask (ROI×ROI, 0/1). */
  maskPrompt?: Uint8Array;
  /**
   * The fused confidence as a foreground probability (ROI×ROI). SAM's decoder has no input for
   * it and ignores it; the weight-free decoder uses it as the random walker's prior.
   */
  prior?: Float32Array;
  /**
   * The support organ's bounding-box size and area in ROI pixels: how large the target may be.
   * SAM's decoder ignores it; the weight-free decoder bounds its walk with the box and sizes its
   * mask by the area.
   */
  extent?: OrganExtent;
}

/** A support organ's size on its slice, in ROI pixels. */
export interface OrganExtent {
  width: number;
  height: number;
  /** Pixels of the organ. */
  area: number;
}

/** One k-means result of PSM on the stream: centres [B][k][2] in grid cells, sizes [B][k] (0: no cluster). */
export interface PointClusters {
  centroids: T<'f32'>;
  sizes: T<'u32'>;
  k: number;
}

/**
 * A batch of decoder prompts; the tensors live on the stream that runs the batch. Rows may come
 * from different supports (several organs, or both directions of the propagation pass).
 */
export interface DecodeBatch {
  /** Rows in the batch. */
  B: number;
  /** The B ROI slices. */
  images: SliceBatch;
  /** The prompt points as PSM left them on the stream: a decoder that runs on kernels reads them there. */
  clusters: { positives: PointClusters; negatives: PointClusters | null };
  /** The same points per row on the host (a decoder that runs elsewhere asks; on the GPU it is a readback). */
  points(): Promise<PromptPoint[][]>;
  /** [B][ROI·ROI] the fused confidence as a foreground probability (see DecodeRequest.prior). */
  prior?: T<'f32'>;
  /** [B][ROI·ROI] NRM's second pass: the refined masks. */
  maskPrompt?: T<'mask'>;
  /** Per row, its support organ's size (see DecodeRequest.extent). */
  extents?: readonly OrganExtent[];
}

export interface PromptDecoder {
  readonly name: string;
  /** [B][ROI·ROI] 0/1 masks, one per slice of the batch. */
  decode(batch: DecodeBatch, stream: TensorStream): Promise<T<'mask'>>;
}

export interface Backend {
  readonly name: string;
  /** The DINOv2 role. */
  readonly dino: FeatureEncoder;
  /** The SAM role. */
  readonly sam: FeatureEncoder;
  readonly decoder: PromptDecoder;
}
