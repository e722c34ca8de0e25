/**
 * @synpo/onnx-fixtures: synthetic model directories with the DINOv2 / SAM 2.1 export contracts
 * (tests, the benchmark and `synpo models synthetic`). Not models: their masks are discs.
 */
export { syntheticModelDir, dinoGraph, samEncoderGraph, samDecoderGraph, type DinoFixture, type ExportVariant, type SyntheticModelDir } from './synthetic.ts';
