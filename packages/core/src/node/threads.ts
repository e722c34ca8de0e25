/**
 * The CPU path on worker threads (Node): the organs of a volume dealt over threads
 * (splitOrgans), each thread running segmentOrgans on the CPU reference kernels with the
 * weight-free backend, and the parts merged as one call gives them (mergeOrganParts). A slice's
 * result does not depend on the other organs of its call, so the masks and labels are those of
 * one thread, byte for byte.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { cpuKernels, ShapeError } from '@synpo/gpu';
import { weightFreeBackend, type WeightFreeOptions } from '../backends/weight-free.ts';
import type { SynpoOptionsInput } from '../options.ts';
import { mergeOrganParts, segmentOrgans, splitOrgans, type SegmentOrgansRequest, type SegmentOrgansResult } from '../segment.ts';
import { Synpo } from '../synpo.ts';

export interface ThreadedOrgansRequest extends Omit<SegmentOrgansRequest, 'synpo' | 'detail' | 'onSlice'> {
  /** Each thread's Synpo options (seed, points, propagation, cache…). */
  options?: SynpoOptionsInput;
  /** The weight-free backend's options. */
  weightFree?: Partial<WeightFreeOptions>;
  /** Threads at most (default: os.availableParallelism()); never more than the organs. */
  threads?: number;
}

/** What a thread is sent: its organs and what it needs to segment them. */
export type ThreadTask = Omit<ThreadedOrgansRequest, 'progress' | 'threads'>;

/** What a thread sends back. */
export type ThreadMessage =
  | { type: 'progress'; done: number; total: number; label: string }
  | { type: 'result'; result: SegmentOrgansResult }
  | { type: 'error'; name: string; message: string };

/**
 * A new thread: the built worker file beside this module, or, when this module runs from source
 * (vitest), the source one with tsx's loader registered in the thread first.
 */
function spawn(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./organ-thread.js', import.meta.url));
  const entry = new URL('./organ-thread.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
}

/** One thread's part: segmentOrgans on its own kernels and backend. */
export async function runThreadTask(task: ThreadTask, progress?: SegmentOrgansRequest['progress']): Promise<SegmentOrgansResult> {
  const synpo = new Synpo(weightFreeBackend(task.weightFree), cpuKernels(), task.options);
  const { options: _o, weightFree: _w, ...req } = task;
  return segmentOrgans({ ...req, synpo, keepConfidence: true, ...(progress && { progress }) });
}

/** Threads started ahead of their task (warmThreads), idle until one is needed. */
const idle: Worker[] = [];

/**
 * Starts `count` segmentation threads now, so that loading their modules overlaps the caller's
 * own work (reading and preparing the volumes); segmentOrgansOnThreads takes them. Idle threads
 * do not keep the process alive.
 */
export function warmThreads(count: number): void {
  while (idle.length < count) {
    const worker = spawn();
    worker.unref();
    idle.push(worker);
  }
}

function runOnThread(task: ThreadTask, onProgress: (done: number, total: number, label: string) => void): Promise<SegmentOrgansResult> {
  const worker = idle.pop() ?? spawn();
  worker.ref();
  return new Promise<SegmentOrgansResult>((resolve, reject) => {
    worker.on('message', (m: ThreadMessage) => {
      if (m.type === 'progress') onProgress(m.done, m.total, m.label);
      else if (m.type === 'result') resolve(m.result);
      else reject(Object.assign(m.name === 'ShapeError' ? new ShapeError('', '') : new Error(), { message: m.message }));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`a segmentation thread exited (code ${code}) before its result`)));
    worker.postMessage(task);
  }).finally(() => void worker.terminate());
}

/**
 * segmentOrgans on the CPU path, its organs spread over threads: the first part (the one with
 * the longest organ) runs in this thread, whose code is compiled already if it segmented before,
 * and every other part on a worker thread of its own. Progress adds up the parts' organ-slices.
 */
export async function segmentOrgansOnThreads(req: ThreadedOrgansRequest): Promise<SegmentOrgansResult> {
  const { threads = availableParallelism(), progress, keepConfidence, ...rest } = req;
  const task: ThreadTask = {
    ...rest,
    support: { slices: req.support.slices, nz: req.support.nz, ...(req.support.volume?.source && { volume: { source: req.support.volume.source } }) },
    query: { slices: req.query.slices, nz: req.query.nz },
  };
  const parts = splitOrgans(task, threads);
  let results: SegmentOrgansResult[];
  if (parts.length <= 1) {
    results = [await runThreadTask(task, progress)];
  } else {
    const seen = parts.map(() => ({ done: 0, total: 0, label: '' }));
    const report = (k: number) => (done: number, total: number, label: string) => {
      seen[k] = { done, total, label };
      progress?.(
        seen.reduce((n, p) => n + p.done, 0),
        seen.reduce((n, p) => n + p.total, 0),
        `${parts.length} threads, ${label}`,
      );
    };
    const taskOf = (organs: number[]) => ({ ...task, organs: organs.map((o) => req.organs[o]!) });
    // The workers start first, then this thread takes its part; a worker's failure is thrown once it is done.
    const others = parts.slice(1).map((organs, k) => runOnThread(taskOf(organs), report(k + 1)));
    for (const o of others) o.catch(() => {});
    const mine = await runThreadTask(taskOf(parts[0]!), report(0));
    results = [mine, ...(await Promise.all(others))];
  }
  const merged = mergeOrganParts(
    results,
    req.organs.map((o) => o.name),
    req.query,
  );
  if (!keepConfidence) for (const o of merged.organs) delete o.confidence;
  return merged;
}
