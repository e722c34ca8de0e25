/**
 * What a kernel's cases.ts holds: table-driven GPU-vs-reference cases, each a kernel, its host
 * inputs and its parameters, run by packages/gpu/test/kernels.test.ts on the GPU and on the CPU
 * reference and compared (f32 outputs within a tolerance, u32 and masks exactly). Test-only: the
 * build leaves every cases.ts out. Include awkward sizes: 1, not a multiple of the workgroup size,
 * past the 65,535-workgroup dispatch limit.
 */
import type { HostInputs, HostOutputs, KernelDef, KernelInputs, KernelOutputs, SolverDef } from '../kernel-def.ts';
import { createRng } from '../random.ts';
import { HostTensor, type DType, type HostArrayOf } from '../tensor.ts';

export interface KernelCase<I extends KernelInputs, P, O extends KernelOutputs> {
  kernel: KernelDef<I, P, O> | SolverDef<I, P, O>;
  name: string;
  /** Made when the case runs (large inputs are not held by every test file that loads the table). */
  inputs: () => HostInputs<I>;
  params: P;
  /** f32 outputs agree when |gpu − cpu| ≤ atol + rtol·|cpu|; without it they must be equal. */
  tolerance?: { atol: number; rtol: number };
  /** Compares these views of the outputs instead of the whole tensors (where only part carries meaning). */
  view?: (out: HostOutputs<O>) => unknown;
  /** Milliseconds the case may take (lavapipe is a CPU). */
  timeout?: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyKernelCase = KernelCase<any, any, any>;

/** A case, typed by its kernel. */
export function kernelCase<I extends KernelInputs, P, O extends KernelOutputs>(c: KernelCase<I, P, O>): AnyKernelCase {
  return c as AnyKernelCase;
}

export const host = <D extends DType>(dtype: D, shape: readonly number[], data: HostArrayOf[D]): HostTensor<D> => new HostTensor(dtype, shape, data);

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng());
}

export function randomMask(n: number, seed: number, density = 0.5): Uint8Array {
  const rng = createRng(seed, 7);
  return Uint8Array.from({ length: n }, () => (rng() < density ? 1 : 0));
}

/** A filled disc of radius r centred at (cx, cy) in an H×W mask. */
export function discMask(H: number, W: number, cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * W + x] = 1;
  return m;
}
