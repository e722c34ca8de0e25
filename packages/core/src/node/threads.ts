/**
 * The CPU path on worker threads (Node): the organs of a volume dealt over threads
 * (splitOrgans), each thread running segmentOrgans on the CPU reference kernels with the
 * weight-free backend, and the parts merged as one call gives them (mergeOrganParts). First the
 * threads encode the query slices together, each slice on one thread (dealSlices), and pass the
 * encodings on to the threads whose organs need them; then each segments its organs. A slice's
 * result does not depend on the other organs of its call, nor on where it was encoded, so the
 * masks and labels are those of one thread, byte for byte.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { cpuKernels, ShapeError } from '@synpo/gpu';
import { weightFreeBackend, type WeightFreeOptions } from '../backends/weight-free.ts';
import type { SynpoOptionsInput } from '../options.ts';
import {
  encodingShares,
  encodingsFromOthers,
  mergeOrganParts,
  organLoad,
  segmentOrgans,
  splitOrgans,
  withAtlases,
  type SegmentOrgansRequest,
  type SegmentOrgansResult,
} from '../segment.ts';
import { Synpo, type HostEncoding } from '../synpo.ts';

export interface ThreadedOrgansRequest extends Omit<SegmentOrgansRequest, 'synpo' | 'detail' | 'onSlice' | 'encodings'> {
  /** Each thread's Synpo options (seed, points, propagation, cache…). */
  options?: SynpoOptionsInput;
  /** The weight-free backend's options. */
  weightFree?: Partial<WeightFreeOptions>;
  /** Threads at most (default: defaultThreads()); never more than the organs. */
  threads?: number;
}

/**
 * One thread a core, up to 8: each worker holds its own copy of the volumes and its own heap
 * (hundreds of MB for a CT), so a many-core machine with many organs would otherwise spend its
 * memory on threads.
 */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), 8);
}

/** What a thread is given: its organs and what it needs to segment them. */
export type ThreadTask = Omit<ThreadedOrgansRequest, 'progress' | 'threads'>;

/** Query slice index → its encodings. */
export type Encodings = Map<number, HostEncoding>;

/** What a thread is sent: its task and the slices it encodes, then the others' encodings it needs. */
export type ToThread = { type: 'task'; task: ThreadTask; encode: number[] } | { type: 'encodings'; encodings: Encodings };

/** What a thread sends back. */
export type ThreadMessage =
  | { type: 'encoded'; encodings: Encodings }
  | { type: 'progress'; done: number; total: number; label: string }
  | { type: 'result'; result: SegmentOrgansResult }
  | { type: 'error'; name: string; message: string };

/**
 * A new thread: the built worker file beside this module, or, when this module runs from source
 * (vitest), the source one with tsx's loader registered in the thread first.
 */
function spawn(): Worker {
  const entry = new URL('./organ-thread.ts', import.meta.url).href;
  const worker = !import.meta.url.endsWith('.ts')
    ? new Worker(new URL('./organ-thread.js', import.meta.url))
    : new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`, { eval: true });
  // A thread that fails or ends while idle leaves the idle list (at work, its part's listeners
  // fail the part); without a listener its error would end this process.
  worker.on('error', () => {});
  worker.on('exit', () => {
    const i = idle.indexOf(worker);
    if (i >= 0) idle.splice(i, 1);
  });
  return worker;
}

/** One thread's part of a volume: a share of its slices to encode for every thread, then its organs. */
export class ThreadPart {
  private readonly synpo: Synpo;
  private readonly own: Encodings = new Map();
  private task: ThreadTask;

  constructor(task: ThreadTask) {
    this.task = task;
    this.synpo = new Synpo(weightFreeBackend(task.weightFree), cpuKernels(), task.options);
  }

  /** Encodes query slices `zs` (this thread's share): the encodings, for the threads that need them. */
  async encode(zs: readonly number[]): Promise<Encodings> {
    const encodings = await this.synpo.encodeToHost(this.task.query, zs);
    zs.forEach((z, i) => this.own.set(z, encodings[i]!));
    return this.own;
  }

  /** Makes its organs' atlases (while the other threads still encode). */
  prepare(): void {
    this.task = { ...this.task, organs: withAtlases(this.task, this.synpo.options.atlas.growth) };
  }

  /** segmentOrgans on this part's organs, with its own encodings and those the others sent. */
  async segment(others: ReadonlyMap<number, HostEncoding>, progress?: SegmentOrgansRequest['progress']): Promise<SegmentOrgansResult> {
    const { options: _o, weightFree: _w, ...req } = this.task;
    const result = await segmentOrgans({
      ...req,
      synpo: this.synpo,
      keepConfidence: true,
      encodings: new Map([...this.own, ...others]),
      ...(progress && { progress }),
    });
    // The slices it encoded for all count here, once.
    return { ...result, encodedSlices: result.encodedSlices + this.own.size };
  }
}

/**
 * Threads idle until a part needs one: started ahead of their task (warmThreads), or back from
 * one, their code compiled by it (the next volume of a batch runs at full speed at once).
 */
const idle: Worker[] = [];
/** Idle threads kept at most; more are ended. */
const MAX_IDLE = 8;

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

/** A promise and its settlers (Promise.withResolvers, which Node 20 lacks). */
function deferred<V>(): { promise: Promise<V>; resolve(value: V): void; reject(error: unknown): void } {
  let resolve!: (value: V) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<V>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** A part on a worker thread: its encodings once made, then its result; `send` gives it the others' encodings. */
function startThread(
  task: ThreadTask,
  encode: number[],
  onProgress: (done: number, total: number, label: string) => void,
): { encoded: Promise<Encodings>; result: Promise<SegmentOrgansResult>; send(encodings: Encodings): void; stop(): void } {
  const worker = idle.pop() ?? spawn();
  worker.ref();
  const encoded = deferred<Encodings>();
  const result = deferred<SegmentOrgansResult>();
  const fail = (error: unknown) => {
    encoded.reject(error);
    result.reject(error);
  };
  const message = (m: ThreadMessage) => {
    if (m.type === 'encoded') encoded.resolve(m.encodings);
    else if (m.type === 'progress') onProgress(m.done, m.total, m.label);
    else if (m.type === 'result') result.resolve(m.result);
    else fail(Object.assign(m.name === 'ShapeError' ? new ShapeError('', '') : new Error(), { message: m.message }));
  };
  const exit = (code: number) => fail(new Error(`a segmentation thread exited (code ${code}) before its result`));
  worker.on('message', message).on('error', fail).on('exit', exit);
  // Awaited by the caller; a failure while it awaits another thread must not go unhandled.
  encoded.promise.catch(() => {});
  result.promise.catch(() => {});
  // Done: the thread waits idle for the next part; one that failed is ended.
  result.promise.then(
    () => {
      worker.off('message', message).off('error', fail).off('exit', exit);
      worker.unref();
      if (idle.length < MAX_IDLE) idle.push(worker);
      else void worker.terminate();
    },
    () => void worker.terminate(),
  );
  worker.postMessage({ type: 'task', task, encode } satisfies ToThread);
  return {
    encoded: encoded.promise,
    result: result.promise,
    send: (encodings) => worker.postMessage({ type: 'encodings', encodings } satisfies ToThread),
    stop: () => void worker.terminate(),
  };
}

/**
 * segmentOrgans on the CPU path, its organs spread over threads: the first part (the one with
 * the heaviest organ) runs in this thread, whose code is compiled already if it segmented before,
 * and every other part on a worker thread of its own. Progress adds up the parts' organ-slices.
 */
export async function segmentOrgansOnThreads(req: ThreadedOrgansRequest): Promise<SegmentOrgansResult> {
  const { threads = defaultThreads(), progress, keepConfidence, ...rest } = req;
  const task: ThreadTask = {
    ...rest,
    support: { slices: req.support.slices, nz: req.support.nz, ...(req.support.volume?.source && { volume: { source: req.support.volume.source } }) },
    query: { slices: req.query.slices, nz: req.query.nz },
  };
  const loads = task.organs.map((organ) => organLoad(task, organ));
  const parts = splitOrgans(task, threads, loads);
  let results: SegmentOrgansResult[];
  if (parts.length <= 1) {
    results = [await new ThreadPart(task).segment(new Map(), progress)];
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
    const { needs, shares } = encodingShares(task, parts, loads);
    const tasks = parts.map((organs) => ({ ...task, organs: organs.map((o) => req.organs[o]!) }));
    // The workers start first; this thread makes its atlases and encodes its share meanwhile, then
    // takes its part once every share is in.
    const others = tasks.slice(1).map((t, k) => startThread(t, shares[k + 1]!, report(k + 1)));
    try {
      const mine = new ThreadPart(tasks[0]!);
      mine.prepare();
      const all = new Map(await mine.encode(shares[0]!));
      for (const o of others) for (const [z, e] of await o.encoded) all.set(z, e);
      others.forEach((o, k) => o.send(encodingsFromOthers(needs[k + 1]!, shares[k + 1]!, all)));
      const first = await mine.segment(encodingsFromOthers(needs[0]!, shares[0]!, all), report(0));
      results = [first, ...(await Promise.all(others.map((o) => o.result)))];
    } catch (error) {
      for (const o of others) o.stop();
      throw error;
    }
  }
  const merged = mergeOrganParts(
    results,
    req.organs.map((o) => o.name),
    req.query,
  );
  if (!keepConfidence) for (const o of merged.organs) delete o.confidence;
  return merged;
}
