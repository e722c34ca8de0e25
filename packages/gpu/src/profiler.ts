/**
 * Kernel timing through timestamp queries (webgpu-samples' TimestampQueryManager). In profiling
 * mode each dispatch gets its own compute pass with begin/end timestamps; that flushes per kernel,
 * so profiling numbers and end-to-end benchmark numbers are kept apart.
 *
 * Every recorder times its dispatches in a session of its own (its own query set and labels),
 * so two recorders in flight at once never mix up whose kernel a timestamp belongs to.
 */
export interface KernelTiming {
  /** `kernel:entry`, the pipeline's label (prefixed by the stage when one is set). */
  label: string;
  ms: number;
}

const QUERY_CAPACITY = 4096; // pairs are 2 queries; one query set serves one submission

export class Profiler {
  readonly timings: KernelTiming[] = [];
  private readonly idle: GPUQuerySet[] = [];
  private readonly all: GPUQuerySet[] = [];

  constructor(private readonly device: GPUDevice) {}

  static supported(device: GPUDevice): boolean {
    return device.features.has('timestamp-query');
  }

  /** A session for one recorder. */
  session(): ProfileSession {
    return new ProfileSession(this);
  }

  /** @internal a query set from the pool. */
  acquire(): GPUQuerySet {
    let set = this.idle.pop();
    if (!set) {
      set = this.device.createQuerySet({ label: 'synpo-profiler', type: 'timestamp', count: QUERY_CAPACITY });
      this.all.push(set);
    }
    return set;
  }

  /** @internal */
  giveBack(set: GPUQuerySet): void {
    this.idle.push(set);
  }

  /** Sums per label, in first-seen order. */
  summary(): KernelTiming[] {
    const totals = new Map<string, number>();
    for (const t of this.timings) totals.set(t.label, (totals.get(t.label) ?? 0) + t.ms);
    return [...totals].map(([label, ms]) => ({ label, ms }));
  }

  reset(): void {
    this.timings.length = 0;
  }

  destroy(): void {
    for (const set of this.all) set.destroy();
    this.all.length = 0;
    this.idle.length = 0;
  }
}

/** One recorder's timestamps between two submissions. */
export class ProfileSession {
  private set: GPUQuerySet | null = null;
  private labels: string[] = [];

  constructor(private readonly profiler: Profiler) {}

  /** Timestamp writes for the next dispatch, or undefined once the query set is full. */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    const index = this.labels.length * 2;
    if (index + 2 > QUERY_CAPACITY) return undefined;
    this.set ??= this.profiler.acquire();
    this.labels.push(label);
    return { querySet: this.set, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  /** Encodes the resolve of this session's queries; returns what to collect after submit. */
  resolve(device: GPUDevice, encoder: GPUCommandEncoder): PendingTimings | null {
    if (this.labels.length === 0 || !this.set) return null;
    const count = this.labels.length * 2;
    const resolveBuffer = device.createBuffer({
      label: 'synpo-profiler-resolve',
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readBuffer = device.createBuffer({ label: 'synpo-profiler-read', size: count * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.set, 0, count, resolveBuffer, 0);
    encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, count * 8);
    const pending = { set: this.set, labels: this.labels, resolveBuffer, readBuffer };
    this.set = null;
    this.labels = [];
    return pending;
  }

  /** Reads the timestamps after the submission and files them with the profiler. */
  async collect(pending: PendingTimings): Promise<void> {
    try {
      await pending.readBuffer.mapAsync(GPUMapMode.READ);
      const stamps = new BigInt64Array(pending.readBuffer.getMappedRange().slice(0));
      pending.labels.forEach((label, i) => {
        const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
        this.profiler.timings.push({ label, ms: ns / 1e6 });
      });
    } finally {
      pending.readBuffer.destroy();
      pending.resolveBuffer.destroy();
      this.profiler.giveBack(pending.set);
    }
  }
}

export interface PendingTimings {
  set: GPUQuerySet;
  labels: string[];
  resolveBuffer: GPUBuffer;
  readBuffer: GPUBuffer;
}
