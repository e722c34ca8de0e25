/** A run of cases in this process: the models and kernels opened once, N cases at a time. */
import { DEFAULT_OPTIONS, PropagationSteps } from '@synpo/core';
import { backendFor, cacheBytes, type BackendOpts } from '../backend.ts';
import { computeFor } from '../compute.ts';
import type { BatchCase } from './manifest.ts';
import { runCase, type CaseContext, type CaseResult } from './run-case.ts';

export interface RunOpts extends BackendOpts {
  device: 'auto' | 'gpu' | 'cpu';
  adapter?: string;
  seed: number;
  band: 'chaos-t2' | 'sabs-ct';
  intensity: 'auto' | 'ct' | 'mr';
  labels: string;
  /** The propagation pass (commander's --no-propagate sets false; absent: on). */
  propagate?: boolean;
  /** PropagationOptions.agreement (absent: the default). */
  propagationAgreement?: number;
  /** PropagationOptions.anchorStride (absent: the default). */
  propagationAnchorStride?: number;
  /** The atlas prior (commander's --no-atlas sets false; absent: on). */
  atlas?: boolean;
  /** The CPU path's threads for a case's organs (absent: one). */
  threads?: number;
  force?: boolean;
}

/** Models and kernels for a run of cases: loaded once. */
export async function caseContext(opts: RunOpts): Promise<{ ctx: CaseContext; release(): void }> {
  const backend = await backendFor(opts);
  const compute = await computeFor(opts.device, opts.adapter ? { adapter: opts.adapter } : {});
  const ctx: CaseContext = {
    backend,
    kernels: compute.kernels,
    options: {
      seed: opts.seed,
      band: opts.band,
      intensity: opts.intensity,
      labels: opts.labels,
      backend: opts.backend === 'onnx' ? `onnx:${opts.models}` : 'weight-free',
      cacheBytes: cacheBytes(opts),
      propagate: opts.propagate ?? true,
      propagationAgreement: opts.propagationAgreement ?? DEFAULT_OPTIONS.propagation.agreement,
      propagationAnchorStride: opts.propagationAnchorStride ?? DEFAULT_OPTIONS.propagation.anchorStride,
      atlas: opts.atlas ?? true,
    },
    force: Boolean(opts.force),
    threads: opts.threads ?? 1,
    ...(opts.weightFree && { weightFree: opts.weightFree }),
  };
  return { ctx, release: () => compute.release() };
}

/**
 * Runs `cases` with `jobs` at a time, in order of completion, calling `done` after each. With
 * several jobs the cases' propagation steps run together (PropagationSteps: one chain, one
 * submission on the GPU, for the steps of every volume propagating at the time).
 */
export async function runPool(cases: BatchCase[], jobs: number, ctx: CaseContext, done: (r: CaseResult) => Promise<void>): Promise<CaseResult[]> {
  if (jobs > 1 && !ctx.steps) ctx = { ...ctx, steps: new PropagationSteps() };
  const results: CaseResult[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++]!;
      const r = await runCase(c, ctx);
      results.push(r);
      await done(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, cases.length) }, worker));
  return results.sort((a, b) => a.row - b.row);
}
