/**
 * Kernel timing through timestamp queries (webgpu-samples' TimestampQueryManager). In profiling
 * mode each dispatch gets its own compute pass with begin/end timestamps; that flushes per kernel,
 * so profiling numbers and end-to-end benchmark numbers are kept apart.
 */
export interface KernelTiming {
  /** `kernel:entry`, the pipeline's label. */
  label: string;
  ms: number;
}

const QUERY_CAPACITY = 4096; // pairs are 2 queries; one query set serves a whole recorder

export class Profiler {
  readonly timings: KernelTiming[] = [];
  private readonly querySet: GPUQuerySet;
  private labels: string[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ label: 'synpo-profiler', type: 'timestamp', count: QUERY_CAPACITY });
  }

  static supported(device: GPUDevice): boolean {
    return device.features.has('timestamp-query');
  }

  /** Timestamp writes for the next dispatch, or undefined once the query set is full. */
  next(label: string): GPUComputePassTimestampWrites | undefined {
    const index = this.labels.length * 2;
    if (index + 2 > QUERY_CAPACITY) return undefined;
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  /** Encodes the resolve of this recorder's queries; returns a buffer to read after submit. */
  resolve(encoder: GPUCommandEncoder): { buffer: GPUBuffer; labels: string[] } | null {
    if (this.labels.length === 0) return null;
    const count = this.labels.length * 2;
    const resolveBuffer = this.device.createBuffer({
      label: 'synpo-profiler-resolve',
      size: count * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const readBuffer = this.device.createBuffer({
      label: 'synpo-profiler-read',
      size: count * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    encoder.resolveQuerySet(this.querySet, 0, count, resolveBuffer, 0);
    encoder.copyBufferToBuffer(resolveBuffer, 0, readBuffer, 0, count * 8);
    const labels = this.labels;
    this.labels = [];
    queueMicrotask(() => resolveBuffer.destroy());
    return { buffer: readBuffer, labels };
  }

  async collect(pending: { buffer: GPUBuffer; labels: string[] }): Promise<void> {
    await pending.buffer.mapAsync(GPUMapMode.READ);
    const stamps = new BigInt64Array(pending.buffer.getMappedRange().slice(0));
    pending.buffer.destroy();
    pending.labels.forEach((label, i) => {
      const ns = Number(stamps[2 * i + 1]! - stamps[2 * i]!);
      this.timings.push({ label, ms: ns / 1e6 });
    });
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
    this.querySet.destroy();
  }
}
