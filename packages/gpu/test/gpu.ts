/**
 * Test helpers: the GPU under test, closeness checks, seeded data. A GPU suite without an
 * adapter is skipped with its reason locally, and fails under CI (CI=true or
 * SYNPO_REQUIRE_GPU=1): a skipped GPU suite is never a green one there.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { gpuKernels, GpuRuntime, NoAdapterError, openGpu, type GpuHandle, type Kernels } from '../src/index.ts';

export const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

export interface GpuUnderTest {
  handle: GpuHandle;
  runtime: GpuRuntime;
  kernels: Kernels;
}

/** Opens one device for a test file; `skipReason` is set when there is none (outside CI). */
export function useGpu(options: { profile?: boolean } = {}): { current: GpuUnderTest | null; skipReason: string } {
  const state: { current: GpuUnderTest | null; skipReason: string } = { current: null, skipReason: '' };
  beforeAll(async () => {
    try {
      const handle = await openGpu();
      const runtime = new GpuRuntime(handle.device, options);
      state.current = { handle, runtime, kernels: gpuKernels(runtime) };
    } catch (error) {
      if (requireGpu || !(error instanceof NoAdapterError)) throw error;
      state.skipReason = `no WebGPU adapter here (${error.message}); CI requires one`;
    }
  });
  afterAll(() => {
    state.current?.runtime.destroy();
    state.current?.handle.release();
  });
  return state;
}

/** |a − e| ≤ atol + rtol·|e| for every element, reporting the first offender. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-5, rtol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`element ${i}: got ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
    }
  }
}

export { discMask, randomArray, randomMask } from '../src/kernels/cases.ts';
