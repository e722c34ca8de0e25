/**
 * @synpo/gpu: SynPo's WebGPU runtime. Every post-encoder stage as a WGSL kernel (in the
 * repository's kernels/ folder) with a CPU reference, behind one `Kernels` interface.
 */
export { openCompute, type Compute, type ComputeOptions } from './compute.ts';
export { openGpu } from '#device';
export { NoAdapterError, summarizeAdapter, type AdapterSummary, type DeviceChoice, type GpuHandle } from './device.ts';
export { cpuKernels, gpuKernels, fallbackKernels, wrapKernels, type ComputePath, type Kernels, type KMeansRequest } from './kernels.ts';
export { DeviceLostError, GpuRuntime, GpuValidationError, Recorder, grid, type Readback, type RuntimeOptions, type TransferCounts } from './runtime.ts';
export { DeviceTensor, HostTensor, elementCount, type DType, type HostArray, type HostArrayOf, type Tensor } from './tensor.ts';
export { CpuStream, GpuStream, NO_COMPONENT, releaseResident, type GpuStreamOptions, type T, type TensorStream } from './stream.ts';
export { BufferPool, type PoolStats, type Slot } from './buffer-pool.ts';
export { compiledPipelineCount, type BindingKind, type KernelSpec } from './pipeline-cache.ts';
export { Profiler, ProfileSession, type KernelTiming } from './profiler.ts';
export { packUniforms, type UniformField, type WgslScalar } from './uniforms.ts';
export { createRng, type Rng } from './random.ts';
export { ShapeError, type FeatureShape, type ImageShape } from './shapes.ts';

export { prototypeReference, cellInverseNorms } from './reference/prototype.ts';
export { confidenceReference, confidenceNaiveReference } from './reference/confidence.ts';
export { synergyReference, type SynergyWeights } from './reference/synergy.ts';
export { upsampleBilinearReference, downsampleMaskReference, type ResizeShape } from './reference/resize.ts';
export { momentsReference, type Moments, type RowsShape } from './reference/moments.ts';
export { bandReference, type Bounds } from './reference/band.ts';
export { topkReference, TOPK_MAX_K, type TopK } from './reference/topk.ts';
export {
  kmeansReference,
  lloydReference,
  kmeansPlusPlus,
  kmeansPlusPlusFromDraws,
  drawIntegers,
  DRAW_RANGE,
  KMEANS_DEFAULT_MAX_ITERATIONS,
  type KMeansResult,
} from './reference/kmeans.ts';
export { morphologyReference, openingReference, type MorphologyOp, type StructuringElement } from './reference/morphology.ts';
export { componentsReference, type Component, type Components, type Connectivity } from './reference/components.ts';

export { recordPrototype, prototypeSpec } from './kernels/prototype.ts';
export { recordConfidence, recordConfidenceNaive, confidenceSpec, confidenceNaiveSpec } from './kernels/confidence.ts';
export { recordSynergy, synergySpec } from './kernels/synergy.ts';
export { recordUpsampleBilinear, recordDownsampleMask, resizeSpec } from './kernels/resize.ts';
export { recordMoments, momentsSpec } from './kernels/moments.ts';
export { recordBand, bandSpec } from './kernels/band.ts';
export { recordTopK, topkSpec } from './kernels/topk.ts';
export { recordKMeans, kmeansSpec, type KMeansBuffers, type KMeansInit } from './kernels/kmeans.ts';
export { recordMorphology, recordOpening, morphologySpec } from './kernels/morphology.ts';
export { recordComponents, componentsSpec } from './kernels/components.ts';
export { runKernelBench, formatBenchReport, median, type BenchReport, type BenchOptions, type KernelBenchRow, type ConfidenceRatioRow } from './bench.ts';
export { gaussianReference, gaussianRadius } from './reference/gaussian.ts';
export { appearanceReference, positionChannels, shrinkReference, type AppearanceSpec } from './reference/features.ts';
export {
  randomWalkerReference,
  edgeWeightsReference,
  RANDOM_WALKER_DEFAULTS,
  SEED_NONE,
  SEED_FOREGROUND,
  SEED_BACKGROUND,
  type RandomWalkerOptions,
  type RandomWalkerResult,
} from './reference/random-walker.ts';
export { recordGaussian, gaussianSpec } from './kernels/gaussian.ts';
export { recordAppearance, featuresSpec } from './kernels/features.ts';
export { sampleSubsetFromDraws, sampleRowsReference, cellPointsReference } from './reference/points.ts';
export { priorReference } from './reference/prior.ts';
export { areaThresholdReference, AREA_BINS, type AreaThresholdOptions } from './reference/area.ts';
export { guidePenaltyReference, poolMaskReference, type GuideShape } from './reference/guide.ts';
export { promptRowsReference, type PromptRowsOptions, type PromptRowsShape } from './reference/box.ts';
export { recordPromptRows, boxSpec } from './kernels/box.ts';
export {
  thresholdReference,
  bestComponentMaskReference,
  bestRootsReference,
  keepRowsReference,
  packBitsReference,
  packBytesReference,
  unpackBits,
} from './reference/refine.ts';
export { shrinkInputsReference, seedMapReference, type DecoderInputOptions } from './reference/prompt.ts';
export { recordSampleRows, recordCellPoints, pointsSpec } from './kernels/points.ts';
export { recordPrior, priorSpec } from './kernels/prior.ts';
export { recordAreaThreshold, areaSpec } from './kernels/area.ts';
export { recordGuidePenalty, recordPoolMask, guideSpec } from './kernels/guide.ts';
export { recordThreshold, recordBestComponent, recordKeepRows, recordPack, recordPackBits, recordMaskToF32, refineSpec } from './kernels/refine.ts';
export { recordDecoderInputs, promptSpec } from './kernels/prompt.ts';
export { recordStackPosition, recordShrink } from './kernels/features.ts';
export { solveRandomWalker, randomWalkerSpec, RANDOM_WALKER_CHECKS, type RandomWalkerSolve } from './kernels/random-walker.ts';
export { tokensToGridReference, type TokenShape } from './reference/tokens.ts';
export { recordTokensToGrid, tokensSpec } from './kernels/tokens.ts';
