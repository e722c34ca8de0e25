/**
 * @synpo/core: SynPo itself (CMSM, PSM, NRM), the weight-free backend and the evaluation
 * protocol. The ONNX backend (DINOv2, SAM 2.1 through ONNX Runtime) is `@synpo/core/onnx`, so
 * importing this loads no ONNX Runtime.
 */
export {
  DEFAULT_OPTIONS,
  PAPER_BANDS,
  PAPER_SYNERGY,
  resolveOptions,
  type PointSelectionOptions,
  type PropagationOptions,
  type RefineOptions,
  type SynergyOptions,
  type SynpoOptions,
  type SynpoOptionsInput,
} from './options.ts';
export {
  CELLS,
  GRID,
  PIXELS,
  ROI,
  type Backend,
  type OrganExtent,
  type DecodeBatch,
  type PointClusters,
  type DecodeRequest,
  type EncoderRole,
  type FeatureEncoder,
  type PromptDecoder,
  type PromptPoint,
  type SliceBatch,
} from './backend.ts';
export { weightFreeBackend, WEIGHT_FREE_DEFAULTS, type WeightFreeOptions } from './backends/weight-free.ts';
export {
  Synpo,
  type PropagationRow,
  type PropagationStepOut,
  type PropagationStepRequest,
  type QueryVolume,
  type SegmentJob,
  type SegmentJobsOptions,
  type SegmentOptions,
  type SliceDetail,
  type SliceName,
  type SliceResult,
  type Support,
  type SupportEncoding,
} from './synpo.ts';
export {
  prepareVolume,
  preparedSlice,
  labelsToRoi,
  roiToVolume,
  detectIntensity,
  percentile,
  CT_WINDOW,
  MR_CLIP_PERCENTILE,
  MAX_LABEL,
  type IntensityMode,
  type PreparedVolume,
  type RoiGrid,
} from './preprocess.ts';
export {
  CHAOS_T2,
  SABS_CT,
  LAYOUTS,
  ORGANS,
  LABEL_MAPS,
  TOTALSEG_LABELS,
  organName,
  recogniseLabelMap,
  type LabelMapName,
  dice,
  overlap,
  organRange,
  supportSlices,
  queryPart,
  meanStd,
  type DatasetLayout,
  type Organ,
  type Overlap,
} from './protocol.ts';
export {
  ATLAS_CELLS,
  ATLAS_GRID,
  atlasTransform,
  chooseAnchor,
  correspondingSlice,
  organAtlas,
  organGrowth,
  GROWTH_RADIUS,
  GROWTH_EXPONENT,
  refineShift,
  sliceLandmarks,
  type AtlasAnchor,
  type AtlasSide,
  type AtlasTransform,
  type SliceLandmarks,
} from './atlas.ts';
export { checkCase, segmentCase, type CaseOrgan, type SegmentCaseRequest, type SegmentCaseResult } from './case.ts';
export { evaluate, type EvalReport, type EvalRequest, type OrganSummary, type ScanResult } from './evaluate.ts';
export { propagateJobs, PropagationSteps, type MaskSource } from './propagate.ts';
export {
  segmentVolume,
  segmentOrgans,
  combineOrgans,
  splitOrgans,
  mergeOrganParts,
  transferBounds,
  carryRange,
  carriedAtlas,
  type CarriedAtlas,
  supportSliceFor,
  type SegmentVolumeRequest,
  type SegmentVolumeResult,
  type OrganRequest,
  type OrganResult,
  type SegmentOrgansRequest,
  type SegmentOrgansResult,
  type SliceStack,
} from './segment.ts';
export { ByteLru, DEFAULT_CACHE_BYTES } from './cache.ts';
export { phantomPatient, PHANTOM_LABELS, PHANTOM_DEFAULTS, type PhantomOptions } from './phantom.ts';
export { toHalf, fromHalf, packHalf } from './half.ts';
export {
  runPipelineBench,
  runPostEncoderBench,
  runHalfUploadBench,
  splitStages,
  gpuStageTimes,
  StageTimer,
  PAPER_SIZES,
  type PipelineBenchRow,
  type PipelinePath,
  type PostEncoderReport,
  type PostEncoderRow,
  type PostEncoderSizes,
  type StageTimes,
  type TransfersPerSlice,
  type HalfUploadReport,
} from './bench.ts';
