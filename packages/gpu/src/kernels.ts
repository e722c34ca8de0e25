/**
 * The one interface every SynPo stage computes through. Two implementations: the WGSL kernels
 * on a WebGPU device and the CPU references. Validation runs first on both paths, so a bad
 * input fails the same way whichever path is active.
 */
import { bandReference, type Bounds } from './reference/band.ts';
import { componentsReference, type Components, type Connectivity } from './reference/components.ts';
import { confidenceNaiveReference, confidenceReference } from './reference/confidence.ts';
import { KMEANS_DEFAULT_MAX_ITERATIONS, kmeansPlusPlus, kmeansReference, validateKMeans, type KMeansResult } from './reference/kmeans.ts';
import { momentsReference, type Moments, type RowsShape } from './reference/moments.ts';
import { morphologyReference, type MorphologyOp, type StructuringElement } from './reference/morphology.ts';
import { prototypeReference } from './reference/prototype.ts';
import { downsampleMaskReference, upsampleBilinearReference, type ResizeShape } from './reference/resize.ts';
import { synergyReference, type SynergyWeights } from './reference/synergy.ts';
import { topkReference, type TopK } from './reference/topk.ts';
import { bandGpu } from './kernels/band.ts';
import { componentsGpu } from './kernels/components.ts';
import { confidenceGpu, confidenceNaiveGpu } from './kernels/confidence.ts';
import { kmeansGpu } from './kernels/kmeans.ts';
import { momentsGpu } from './kernels/moments.ts';
import { morphologyGpu } from './kernels/morphology.ts';
import { prototypeGpu } from './kernels/prototype.ts';
import { downsampleMaskGpu, upsampleBilinearGpu } from './kernels/resize.ts';
import { synergyGpu } from './kernels/synergy.ts';
import { randomWalkerGpu } from './kernels/random-walker.ts';
import { topkGpu } from './kernels/topk.ts';
import { appearanceReference, type AppearanceSpec } from './reference/features.ts';
import { gaussianReference } from './reference/gaussian.ts';
import { randomWalkerReference, type RandomWalkerOptions, type RandomWalkerResult } from './reference/random-walker.ts';
import { appearanceGpu } from './kernels/features.ts';
import { gaussianGpu } from './kernels/gaussian.ts';
import { createRng } from './random.ts';
import { DeviceLostError, type GpuRuntime, type TransferCounts } from './runtime.ts';
import type { FeatureShape, ImageShape } from './shapes.ts';
import { CpuStream, GpuStream, type GpuStreamOptions, type TensorStream } from './stream.ts';

export interface KMeansRequest {
  k: number;
  /** Seeds k-means++; set b of a batch draws from stream b. */
  seed: number;
  maxIterations?: number;
}

export type ComputePath = 'gpu' | 'cpu';

export interface Kernels {
  /** Which path computes right now (a GPU that was lost falls back to 'cpu'). */
  readonly path: ComputePath;
  /** Largest tensor one binding can hold on this path, in bytes (batch sizes are chosen from it). */
  readonly maxTensorBytes: number;
  /** What has crossed between host and GPU so far (the GPU path's running totals; none on the CPU). */
  transfers(): TransferCounts | null;
  prototype(feats: Float32Array, masks: Uint8Array, shape: FeatureShape): Promise<Float32Array>;
  confidence(feats: Float32Array, protos: Float32Array, shape: FeatureShape): Promise<Float32Array>;
  confidenceNaive(query: Float32Array, support: Float32Array, supportMask: Uint8Array, shape: FeatureShape): Promise<Float32Array>;
  synergy(a: Float32Array, b: Float32Array, weights: SynergyWeights): Promise<Float32Array>;
  upsampleBilinear(maps: Float32Array, shape: ResizeShape): Promise<Float32Array>;
  downsampleMask(masks: Uint8Array, shape: ResizeShape): Promise<Uint8Array>;
  moments(values: Float32Array, mask: Uint8Array | null, shape: RowsShape): Promise<Moments[]>;
  band(values: Float32Array, bounds: Bounds, shape: RowsShape): Promise<Uint32Array[]>;
  topk(values: Float32Array, shape: RowsShape, k: number): Promise<TopK[]>;
  /** One point set per row, (x, y) interleaved; seeded k-means++ then Lloyd iterations. */
  kmeans(rows: readonly Float32Array[], request: KMeansRequest): Promise<KMeansResult[]>;
  morphology(masks: Uint8Array, shape: ImageShape, op: MorphologyOp, element: StructuringElement): Promise<Uint8Array>;
  components(masks: Uint8Array, values: Float32Array | null, shape: ImageShape, connectivity: Connectivity): Promise<Components[]>;
  gaussian(maps: Float32Array, shape: ImageShape, sigma: number): Promise<Float32Array>;
  /** The weight-free appearance encoder: [B][2·S][h·w] standardised local mean/std channels. */
  appearance(slices: Float32Array, shape: ImageShape, spec: AppearanceSpec): Promise<Float32Array>;
  /** The weight-free decoder's solve: foreground probability from seeds and a prior. */
  randomWalker(image: Float32Array, seeds: Uint8Array, prior: Float32Array, shape: ImageShape, options: RandomWalkerOptions): Promise<RandomWalkerResult>;
  /**
   * Runs a chain of kernels on one tensor stream (on the GPU: one command encoder, data kept on
   * the device between kernels) and releases what the stream made when `run` settles. A lost
   * device re-runs the whole chain on the CPU references (through `fallbackKernels`).
   * `options.speculative` records random-walker solves ahead of their checks (GpuStreamOptions).
   */
  chain<R>(label: string, run: (stream: TensorStream) => Promise<R>, options?: GpuStreamOptions): Promise<R>;
}

/** Validates and seeds k-means on the host: both paths start from the same centres. */
function seedKMeans(rows: readonly Float32Array[], request: KMeansRequest): Float32Array[] {
  validateKMeans(rows, { k: request.k, ...(request.maxIterations !== undefined && { maxIterations: request.maxIterations }) });
  return rows.map((row, b) => kmeansPlusPlus(row, request.k, createRng(request.seed, b)));
}

export function cpuKernels(): Kernels {
  const wrap =
    <A extends unknown[], R>(f: (...args: A) => R) =>
    async (...args: A): Promise<R> =>
      f(...args);
  return {
    path: 'cpu',
    maxTensorBytes: Infinity,
    transfers: () => null,
    prototype: wrap(prototypeReference),
    confidence: wrap(confidenceReference),
    confidenceNaive: wrap(confidenceNaiveReference),
    synergy: wrap(synergyReference),
    upsampleBilinear: wrap(upsampleBilinearReference),
    downsampleMask: wrap(downsampleMaskReference),
    moments: wrap(momentsReference),
    band: wrap(bandReference),
    topk: wrap(topkReference),
    kmeans: async (rows, request) => {
      const seeds = seedKMeans(rows, request);
      return rows.map((row, b) => kmeansReference(row, seeds[b]!, request.maxIterations ?? KMEANS_DEFAULT_MAX_ITERATIONS));
    },
    morphology: wrap(morphologyReference),
    components: wrap(componentsReference),
    gaussian: wrap(gaussianReference),
    appearance: wrap(appearanceReference),
    randomWalker: wrap(randomWalkerReference),
    chain: async (_label, run) => run(new CpuStream()),
  };
}

export function gpuKernels(rt: GpuRuntime): Kernels {
  return {
    path: 'gpu',
    maxTensorBytes: rt.maxBindingBytes,
    transfers: () => rt.snapshotTransfers(),
    prototype: (...a) => prototypeGpu(rt, ...a),
    confidence: (...a) => confidenceGpu(rt, ...a),
    confidenceNaive: (...a) => confidenceNaiveGpu(rt, ...a),
    synergy: (...a) => synergyGpu(rt, ...a),
    upsampleBilinear: (...a) => upsampleBilinearGpu(rt, ...a),
    downsampleMask: (...a) => downsampleMaskGpu(rt, ...a),
    moments: (...a) => momentsGpu(rt, ...a),
    band: (...a) => bandGpu(rt, ...a),
    topk: (...a) => topkGpu(rt, ...a),
    kmeans: async (rows, request) => kmeansGpu(rt, rows, seedKMeans(rows, request), request.maxIterations ?? KMEANS_DEFAULT_MAX_ITERATIONS),
    morphology: (...a) => morphologyGpu(rt, ...a),
    components: (...a) => componentsGpu(rt, ...a),
    gaussian: (...a) => gaussianGpu(rt, ...a),
    appearance: (...a) => appearanceGpu(rt, ...a),
    randomWalker: (...a) => randomWalkerGpu(rt, ...a),
    chain: async (label, run, options) => {
      const stream = new GpuStream(rt, label, options);
      try {
        return await run(stream);
      } finally {
        stream.end();
      }
    },
  };
}

export type KernelName = Exclude<keyof Kernels, 'path' | 'maxTensorBytes' | 'transfers'>;

/**
 * A `Kernels` whose every method calls `wrap` with the method's name and a function that runs
 * it with the given arguments; `current()` says which kernels compute (their path and limits).
 * The one place that knows how to decorate all kernel methods at once (fallback on device loss,
 * timing).
 */
export function wrapKernels(current: () => Kernels, wrap: (name: KernelName, run: (k: Kernels) => Promise<unknown>) => Promise<unknown>): Kernels {
  const kernels = {
    get path() {
      return current().path;
    },
    get maxTensorBytes() {
      return current().maxTensorBytes;
    },
    transfers: () => current().transfers(),
  } as Kernels;
  for (const name of Object.keys(cpuKernels()) as (keyof Kernels)[]) {
    if (name === 'path' || name === 'maxTensorBytes' || name === 'transfers') continue;
    Object.defineProperty(kernels, name, {
      enumerable: true,
      value: (...args: unknown[]) => wrap(name, (k) => (k[name] as (...a: unknown[]) => Promise<unknown>)(...args)),
    });
  }
  return kernels;
}

/**
 * GPU kernels that survive a lost device: the call that met the loss is re-run on the CPU
 * reference, `onLost` is told once, and every later call stays on the CPU. A lost device never
 * yields a partial or wrong result.
 */
export function fallbackKernels(gpu: Kernels, cpu: Kernels, onLost: (error: DeviceLostError) => void): Kernels {
  let active = gpu;
  return wrapKernels(
    () => active,
    async (_name, call) => {
      if (active === cpu) return call(cpu);
      try {
        return await call(gpu);
      } catch (error) {
        if (!(error instanceof DeviceLostError)) throw error;
        // Calls in flight together all meet the loss; say it once.
        if (active !== cpu) onLost(error);
        active = cpu;
        return call(cpu);
      }
    },
  );
}
