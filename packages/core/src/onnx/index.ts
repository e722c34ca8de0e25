/**
 * @synpo/core/onnx: the paper's models as a SynPo backend. DINOv2 and SAM 2.1 exports in a
 * model directory, run by ONNX Runtime (onnxruntime-node in Node, onnxruntime-web in the
 * browser: install the one you need; both are optional peer dependencies of @synpo/core).
 */
export { onnxBackend, DinoEncoder, Sam2Encoder, Sam2Decoder, type OnnxBackend, type OnnxBackendOptions, type OnnxModels } from './backend.ts';
export { loadModels, type CheckReport, type ModelSource } from './models.ts';
export {
  parseManifest,
  MANIFEST_FORMAT,
  IMAGENET_MEAN,
  IMAGENET_STD,
  DEFAULT_NAMES,
  type ModelManifest,
  type DinoManifest,
  type SamEncoderManifest,
  type SamDecoderManifest,
} from './manifest.ts';
export { openModel, hostData, ModelError, type ExecutionProvider, type ModelSession, type TensorValue, type ValueInfo } from './session.ts';
export { roiToSam, samToRoi, roiToSlice, sliceToRoi, sliceToSam, samToSlice, samMaskToRoi, roiMaskToSamPrompt, type Point2 } from './coords.ts';
export { resizeSquare, toModelInput, contentHash } from './image.ts';
export { runOnnxBench, type OnnxBenchRow } from './bench.ts';
