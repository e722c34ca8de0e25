/**
 * One kernel = one definition. A `KernelDef` holds everything about one operation of the
 * pipeline: its name, the WGSL it dispatches (with the constants the WGSL shares with
 * TypeScript), the checks its inputs must pass, how it records on a GPU, and the CPU reference
 * that says what it computes. Both tensor streams run any definition through one generic
 * `run`, and the host-array API (`Kernels.run`) is built on top of that; so adding a kernel
 * touches its WGSL file, its own folder (src/kernels/<name>/) and the registry, nothing else.
 * (onnxruntime's `ProgramInfo` and tfjs-webgpu's programs are the same idea.)
 */
import type { KernelSpec } from './pipeline-cache.ts';
import type { Readback, Recorder } from './runtime.ts';
import type { DeviceTensor, DType, HostTensor, T } from './tensor.ts';

/** A kernel's tensor inputs by name; null where an optional input is left out. */
export type KernelInputs = { readonly [name: string]: T | null };
/** A kernel's outputs: one tensor, or tensors by name. */
export type KernelOutputs = T | { readonly [name: string]: T };

type OnDevice<X> = X extends T<infer D extends DType> ? DeviceTensor<D> : X extends null ? null : never;
type OnHost<X> = X extends T<infer D extends DType> ? HostTensor<D> : X extends null ? null : never;
/** The inputs as the GPU path holds them (device tensors). */
export type DeviceInputs<I> = { readonly [K in keyof I]: OnDevice<I[K]> };
/** The inputs as the CPU path holds them (host tensors). */
export type HostInputs<I> = { readonly [K in keyof I]: OnHost<I[K]> };
export type DeviceOutputs<O> = O extends T ? OnDevice<O> : { readonly [K in keyof O]: OnDevice<O[K]> };
export type HostOutputs<O> = O extends T ? OnHost<O> : { readonly [K in keyof O]: OnHost<O[K]> };

/** What a kernel records with: the stream's recorder, and its speculative mode (see GpuStreamOptions). */
export interface RecordContext {
  readonly rec: Recorder;
  /** Iterative solves record their first iterations without a host check. */
  readonly speculative: boolean;
  /** A solve recorded ahead hands over its convergence flags ([B][8], index 6: done), read with the next submission. */
  ahead(flags: Readback<Float32Array>): void;
}

interface KernelBase<I extends KernelInputs, P> {
  /** The operation's name: the registry's key, and the label of what it records. */
  readonly name: string;
  /** The WGSL it dispatches (a file may serve several operations: refine.wgsl's entry points). */
  readonly shaders: readonly KernelSpec[];
  /**
   * Throws a ShapeError when the inputs' shapes or the parameters do not fit, before anything is
   * recorded or computed; the same check on both paths, so both refuse the same calls.
   */
  validate(inputs: I, params: P): void;
}

/** A kernel that records straight through (no host round trip inside it). */
export interface KernelDef<I extends KernelInputs, P, O extends KernelOutputs> extends KernelBase<I, P> {
  readonly solver?: false;
  /** Records the dispatches and returns the outputs, shaped, still on the device. */
  record(ctx: RecordContext, inputs: DeviceInputs<I>, params: P): DeviceOutputs<O>;
  /** The CPU reference: the same outputs from host tensors. */
  reference(inputs: HostInputs<I>, params: P): HostOutputs<O>;
}

/** An iterative kernel whose recording may wait on the GPU (the random walker's convergence checks). */
export interface SolverDef<I extends KernelInputs, P, O extends KernelOutputs> extends KernelBase<I, P> {
  readonly solver: true;
  record(ctx: RecordContext, inputs: DeviceInputs<I>, params: P): Promise<DeviceOutputs<O>>;
  reference(inputs: HostInputs<I>, params: P): HostOutputs<O>;
}

export type AnyKernelDef = KernelDef<any, any, any> | SolverDef<any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Typed identity: a definition as written, frozen. */
export function defineKernel<I extends KernelInputs, P, O extends KernelOutputs>(def: KernelDef<I, P, O>): KernelDef<I, P, O> {
  return Object.freeze(def);
}

export function defineSolver<I extends KernelInputs, P, O extends KernelOutputs>(def: Omit<SolverDef<I, P, O>, 'solver'>): SolverDef<I, P, O> {
  return Object.freeze({ ...def, solver: true as const });
}
