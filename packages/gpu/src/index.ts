/**
 * @synpo/gpu: SynPo's WebGPU runtime: the device seam, tensors and tensor streams, the recorder
 * with its pipeline cache, buffer pool and profiler, and `Kernels` (the GPU path or the CPU
 * references). The kernels themselves, each a definition with its CPU reference, are the
 * `@synpo/gpu/kernels` entry (src/kernels/index.ts).
 */
export { openCompute, type Compute, type ComputeOptions } from './compute.ts';
export { openGpu } from '#device';
export { NoAdapterError, summarizeAdapter, type AdapterSummary, type DeviceChoice, type GpuHandle } from './device.ts';
export { cpuKernels, gpuKernels, fallbackKernels, wrapKernels, type ComputePath, type Kernels } from './kernels.ts';
export {
  defineKernel,
  defineSolver,
  type AnyKernelDef,
  type DeviceInputs,
  type DeviceOutputs,
  type HostInputs,
  type HostOutputs,
  type KernelDef,
  type KernelInputs,
  type KernelOutputs,
  type RecordContext,
  type SolverDef,
} from './kernel-def.ts';
export { DeviceLostError, GpuRuntime, GpuValidationError, Recorder, grid, type Readback, type RuntimeOptions, type TransferCounts } from './runtime.ts';
export { DeviceTensor, HostTensor, elementCount, type DType, type HostArray, type HostArrayOf, type T, type Tensor } from './tensor.ts';
export { CpuStream, GpuStream, releaseResident, type GpuStreamOptions, type Span, type TensorStream } from './stream.ts';
export { BufferPool, type PoolStats, type Slot } from './buffer-pool.ts';
export { compiledPipelineCount, type BindingKind, type KernelSpec } from './pipeline-cache.ts';
export { Profiler, ProfileSession, type KernelTiming } from './profiler.ts';
export { packUniforms, u32, i32, f32, type UniformField, type WgslScalar } from './uniforms.ts';
export { createRng, type Rng } from './random.ts';
export { ShapeError, type FeatureShape, type ImageShape, type Values } from './shapes.ts';
export { runKernelBench, formatBenchReport, median, type BenchReport, type BenchOptions, type KernelBenchRow, type ConfidenceRatioRow } from './bench.ts';
