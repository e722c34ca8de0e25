/**
 * `Kernels`: what SynPo computes through, on one of two paths, the WGSL kernels on a WebGPU device
 * or their CPU references. The pipeline runs chains of kernels on a tensor stream (`chain`: on the
 * GPU one command encoder, data kept on the device between kernels); `run` is the host-array
 * convenience built on top of it: host tensors in, one kernel, host tensors out. Validation runs
 * first on both paths, so a bad input fails the same way whichever path is active.
 */
import type { AnyKernelDef, HostInputs, HostOutputs, KernelDef, KernelInputs, KernelOutputs, SolverDef } from './kernel-def.ts';
import { DeviceLostError, type GpuRuntime, type TransferCounts } from './runtime.ts';
import { finite } from './shapes.ts';
import { CpuStream, GpuStream, type GpuStreamOptions, type TensorStream } from './stream.ts';
import { HostTensor, type T } from './tensor.ts';

export type ComputePath = 'gpu' | 'cpu';

export interface Kernels {
  /** Which path computes right now (a GPU that was lost falls back to 'cpu'). */
  readonly path: ComputePath;
  /** Largest tensor one binding can hold on this path, in bytes (batch sizes are chosen from it). */
  readonly maxTensorBytes: number;
  /** What has crossed between host and GPU so far (the GPU path's running totals; none on the CPU). */
  transfers(): TransferCounts | null;
  /**
   * One kernel on host tensors: its checks (the values too: they are on the host), then an upload,
   * the kernel and a readback on the GPU, or its reference on the CPU. Outputs are host tensors.
   */
  run<I extends KernelInputs, P, O extends KernelOutputs>(
    def: KernelDef<I, P, O> | SolverDef<I, P, O>,
    inputs: HostInputs<I>,
    params: P,
  ): Promise<HostOutputs<O>>;
  /**
   * Runs a chain of kernels on one tensor stream (on the GPU: one command encoder, data kept on
   * the device between kernels) and releases what the stream made when `run` settles. A lost
   * device re-runs the whole chain on the CPU references (through `fallbackKernels`).
   * `options.speculative` records random-walker solves ahead of their checks (GpuStreamOptions).
   */
  chain<R>(label: string, run: (stream: TensorStream) => Promise<R>, options?: GpuStreamOptions): Promise<R>;
}

/** `kernels.run` on a stream: host tensors up, the kernel, every output read back. */
async function runOnStream(s: TensorStream, def: AnyKernelDef, inputs: Readonly<Record<string, HostTensor | null>>, params: unknown): Promise<unknown> {
  def.validate(inputs, params);
  for (const [name, t] of Object.entries(inputs)) if (t?.dtype === 'f32') finite(def.name, name, t);
  const onStream = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t && s.upload(t.data as never, t.shape)]));
  const out = (await s.run(def as KernelDef<KernelInputs, unknown, KernelOutputs>, onStream, params)) as KernelOutputs;
  const read = async (t: T) => new HostTensor(t.dtype, t.shape, await s.read(t));
  if ('dtype' in out && 'shape' in out) return read(out as T);
  return Object.fromEntries(await Promise.all(Object.entries(out).map(async ([name, t]) => [name, await read(t)] as const)));
}

export function cpuKernels(): Kernels {
  return {
    path: 'cpu',
    maxTensorBytes: Infinity,
    transfers: () => null,
    run: (def, inputs, params) => runOnStream(new CpuStream(), def, inputs as never, params) as never,
    chain: async (_label, run) => run(new CpuStream()),
  };
}

export function gpuKernels(rt: GpuRuntime): Kernels {
  const chain: Kernels['chain'] = async (label, run, options) => {
    const stream = new GpuStream(rt, label, options);
    try {
      return await run(stream);
    } finally {
      stream.end();
    }
  };
  return {
    path: 'gpu',
    maxTensorBytes: rt.maxBindingBytes,
    transfers: () => rt.snapshotTransfers(),
    run: (def, inputs, params) => chain(def.name, (s) => runOnStream(s, def, inputs as never, params)) as never,
    chain,
  };
}

/**
 * A `Kernels` whose `run` and `chain` go through `wrap`, with `current()` saying which kernels
 * compute (their path and limits): the one place that decorates every kernel call at once
 * (fallback on device loss, timing).
 */
export function wrapKernels(current: () => Kernels, wrap: <R>(label: string, call: (k: Kernels) => Promise<R>) => Promise<R>): Kernels {
  return {
    get path() {
      return current().path;
    },
    get maxTensorBytes() {
      return current().maxTensorBytes;
    },
    transfers: () => current().transfers(),
    run: (def, inputs, params) => wrap(def.name, (k) => k.run(def, inputs, params)),
    chain: (label, run, options) => wrap(label, (k) => k.chain(label, run, options)),
  };
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
    async (_label, call) => {
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
