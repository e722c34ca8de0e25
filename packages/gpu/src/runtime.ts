/**
 * The GPU runtime: one device, its buffer pool, profiler and transfer counters, and recorders
 * that put many dispatches into one command encoder, keep their results on the device as
 * `DeviceTensor`s, and read back only what is asked for.
 *
 * Concurrency: any number of recorders may be open and in flight at once (two `segment` calls
 * under `Promise.all`, a batch recorded while the previous one computes). Each recorder has its
 * own command encoder and profiler session, error scopes are pushed and popped around each
 * device call in one synchronous step (so another recorder's call can never land in them), and a
 * buffer goes back to the pool only after every submission that uses it.
 */
import { BufferPool, type Slot } from './buffer-pool.ts';
import { cachedKernelPipeline, kernelLayout, kernelPipeline, type KernelSpec } from './pipeline-cache.ts';
import { Profiler, type ProfileSession } from './profiler.ts';
import { DeviceTensor, elementCount, type DType } from './tensor.ts';
import { packUniforms, type UniformField } from './uniforms.ts';

export class DeviceLostError extends Error {
  constructor(reason: string) {
    super(`WebGPU device lost: ${reason}`);
    this.name = 'DeviceLostError';
  }
}

export class GpuValidationError extends Error {
  constructor(kernel: string, message: string) {
    super(`WebGPU rejected ${kernel}: ${message}`);
    this.name = 'GpuValidationError';
  }
}

export interface RuntimeOptions {
  /** Time every dispatch with timestamp queries (when the adapter has them). */
  profile?: boolean;
  /**
   * Largest storage binding to use, in bytes; defaults to the device's own limit. Lower it to
   * make batches split sooner (tests use it to exercise the split path).
   */
  maxBindingBytes?: number;
}

/** What crossed between host and GPU, and how often the host waited for the GPU. */
export interface TransferCounts {
  /** Bytes written from the host (`queue.writeBuffer`: data and new uniform blocks). */
  uploadBytes: number;
  /** Bytes copied back to the host. */
  readbackBytes: number;
  /** `queue.submit` calls. */
  submits: number;
  /** `mapAsync` calls (each one a wait for the GPU). */
  maps: number;
}

type Typed = Float32Array | Uint32Array | Int32Array;

/** Uniform blocks and bind groups kept per runtime; past these counts the cache starts over. */
const UNIFORM_CACHE = 4096;
const BIND_GROUP_CACHE = 8192;

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly profiler: Profiler | null;
  /** Set once the device is lost; every later submit fails fast with it. */
  lost: DeviceLostError | null = null;
  /** Largest storage binding this runtime will create, in bytes. */
  readonly maxBindingBytes: number;
  /** Running totals since the runtime was made (or `resetTransfers`). */
  readonly transfers: TransferCounts = { uploadBytes: 0, readbackBytes: 0, submits: 0, maps: 0 };

  // Uniform blocks are immutable once written, so identical ones are shared (a CG iteration's
  // parameters are the same every time); bind groups are cached by their exact buffers.
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;

  constructor(
    readonly device: GPUDevice,
    options: RuntimeOptions = {},
  ) {
    this.pool = new BufferPool(device);
    this.maxBindingBytes = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    this.profiler = options.profile && Profiler.supported(device) ? new Profiler(device) : null;
    void device.lost.then((info) => {
      this.lost = new DeviceLostError(info.message || info.reason || 'unknown reason');
    });
  }

  /** Resolves to the loss if the device is lost within `ms`, else to null. */
  async lostWithin(ms: number): Promise<DeviceLostError | null> {
    if (this.lost) return this.lost;
    await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, ms))]);
    await Promise.resolve(); // let the loss handler above run first
    return this.lost;
  }

  recorder(label: string): Recorder {
    if (this.lost) throw this.lost;
    return new Recorder(this, label);
  }

  /** The counters now (a copy). */
  snapshotTransfers(): TransferCounts {
    return { ...this.transfers };
  }

  resetTransfers(): void {
    Object.assign(this.transfers, { uploadBytes: 0, readbackBytes: 0, submits: 0, maps: 0 });
  }

  /** @internal a uniform buffer holding `data`, shared with every other use of the same bytes. */
  uniformBuffer(data: ArrayBuffer, label: string, guard: <T>(f: () => T) => T): GPUBuffer {
    const key = Array.from(new Uint32Array(data)).join(',');
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      if (this.uniforms.size >= UNIFORM_CACHE) this.uniforms.clear(); // in-flight users keep theirs alive
      buffer = guard(() => {
        const b = this.device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        this.device.queue.writeBuffer(b, 0, data);
        return b;
      });
      this.transfers.uploadBytes += data.byteLength;
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  /** @internal the bind group of `spec` over these buffers (binding sizes included), cached. */
  bindGroup(spec: KernelSpec, entries: readonly { buffer: GPUBuffer; size: number }[], guard: <T>(f: () => T) => T): GPUBindGroup {
    const key = `${spec.name}|${entries.map((e) => `${this.bufferId(e.buffer)}:${e.size}`).join('|')}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
      group = guard(() =>
        this.device.createBindGroup({
          label: spec.name,
          layout: kernelLayout(this.device, spec),
          entries: entries.map((e, binding) => ({ binding, resource: { buffer: e.buffer, size: e.size } })),
        }),
      );
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  destroy(): void {
    this.bindGroups.clear();
    this.uniforms.clear();
    this.pool.clear();
    this.profiler?.destroy();
  }
}

export interface Readback<T extends Typed> {
  /** Filled after the flush that carries it. */
  value: T | null;
}

interface PendingRead {
  staging: Slot;
  /** Where its bytes sit in `staging` (small reads share one: STAGING_SHARED). */
  offset: number;
  bytes: number;
  ctor: new (b: ArrayBuffer) => Typed;
  target: Readback<Typed>;
  resolve?: (value: Typed) => void;
  reject?: (error: unknown) => void;
  released?: boolean;
}

/**
 * Readbacks of up to STAGING_SMALL bytes are copied side by side into shared staging buffers of
 * STAGING_SHARED bytes: a flush maps each staging buffer once, not once a read (every map is a
 * wait for the GPU). Larger readbacks get a buffer of their own.
 */
const STAGING_SHARED = 64 * 1024;
const STAGING_SMALL = 16 * 1024;

/**
 * Records one stream of work: dispatches go into one command encoder until `flush()` submits
 * them and waits for the readbacks scheduled with `read()` / `download()`. Every buffer it hands
 * out is a `DeviceTensor` it owns; `end()` gives back all of them except those passed to `keep()`.
 */
export class Recorder {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private passPipeline: GPUComputePipeline | null = null;
  private passBindGroup: GPUBindGroup | null = null;
  private readonly owned = new Set<DeviceTensor>();
  /** Tensors used by commands recorded since the last submission. */
  private readonly used = new Set<DeviceTensor>();
  private readonly reads: PendingRead[] = [];
  /** The shared staging buffer small reads are going into, and how much of it they fill. */
  private sharedStaging: { slot: Slot; used: number } | null = null;
  private readonly errors: Promise<string | null>[] = [];
  private readonly kernels = new Set<string>();
  private readonly profile: ProfileSession | null;
  private flushScheduled: Promise<void> | null = null;
  private ended = false;
  /** Prefixes profiler labels (the pipeline's stage names: `confidence`, `refine`, …). */
  stage = '';

  constructor(
    readonly runtime: GpuRuntime,
    readonly label: string,
  ) {
    this.profile = runtime.profiler?.session() ?? null;
  }

  /**
   * Runs a device call inside its own error scopes, pushed and popped in the same synchronous
   * step, and keeps the outcome for the next flush.
   */
  guard<T>(call: () => T): T {
    const device = this.runtime.device;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    try {
      return call();
    } finally {
      const oom = device.popErrorScope();
      const invalid = device.popErrorScope();
      this.errors.push(Promise.all([oom, invalid]).then(([o, v]) => (o ? `out of memory: ${o.message}` : v ? v.message : null)));
    }
  }

  private encoderNow(): GPUCommandEncoder {
    if (this.ended) throw new Error(`${this.label}: this recorder has ended`);
    return (this.encoder ??= this.runtime.device.createCommandEncoder({ label: this.label }));
  }

  /** A device tensor holding `data` (written now, ahead of this recorder's commands). */
  upload<T extends Float32Array | Uint32Array | Int32Array>(
    data: T,
    label: string,
    dtype: DType = data instanceof Float32Array ? 'f32' : 'u32',
    shape: readonly number[] = [data.length],
  ): DeviceTensor {
    const tensor = this.scratch(data.byteLength, label, false, dtype, shape);
    if (data.byteLength > 0) {
      this.guard(() => this.runtime.device.queue.writeBuffer(tensor.buffer, 0, data.buffer, data.byteOffset, data.byteLength));
      this.runtime.transfers.uploadBytes += data.byteLength;
    }
    return tensor;
  }

  /** A device tensor of `dtype` and `shape` for a kernel to write (4 bytes a value); zero-filled when asked. */
  tensor<D extends DType>(dtype: D, shape: readonly number[], label: string, zero = false): DeviceTensor<D> {
    return this.scratch(Math.max(1, elementCount(shape)) * 4, label, zero, dtype, shape);
  }

  /** A device tensor of `bytes` for a kernel to write; zero-filled on the GPU when asked. */
  scratch<D extends DType = 'f32'>(
    bytes: number,
    label: string,
    zero = false,
    dtype: D = 'f32' as D,
    shape: readonly number[] = [Math.ceil(bytes / 4)],
  ): DeviceTensor<D> {
    const max = this.runtime.maxBindingBytes;
    if (bytes > max) {
      throw new RangeError(`${label} needs ${bytes} bytes, over the ${max}-byte storage binding limit of this device; split the batch`);
    }
    const slot = this.guard(() => this.runtime.pool.acquire(bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC, label));
    const tensor = new DeviceTensor<D>(this.runtime, slot, dtype, shape, label);
    this.owned.add(tensor);
    if (zero) {
      this.endPass();
      this.use(tensor);
      this.encoderNow().clearBuffer(tensor.buffer, 0, Math.ceil(slot.bytes / 4) * 4);
    }
    return tensor;
  }

  /** Takes `tensor` out of this recorder's care: the caller releases it. Sets its dtype and shape. */
  keep<D extends DType>(tensor: DeviceTensor, dtype: D, shape: readonly number[]): DeviceTensor<D> {
    this.owned.delete(tensor);
    tensor.dtype = dtype;
    tensor.shape = shape;
    return tensor as DeviceTensor<D>;
  }

  /** Takes a tensor into this recorder's care: `end()` releases it. */
  adopt(tensor: DeviceTensor): DeviceTensor {
    this.owned.add(tensor);
    return tensor;
  }

  /** Releases a tensor now (its buffer returns to the pool after the commands that use it). */
  release(tensor: DeviceTensor): void {
    this.owned.delete(tensor);
    tensor.release();
  }

  private use(slot: Slot): void {
    if (slot instanceof DeviceTensor && !this.used.has(slot)) {
      if (slot.isReleased) throw new Error(`${this.label}: ${slot.label} was released and cannot be used`);
      this.used.add(slot);
      slot.pendingUses++;
    }
  }

  /** Records one dispatch of `spec`'s `entry` over `workgroups`, with `uniforms` at binding 0. */
  dispatch(
    spec: KernelSpec,
    entry: string,
    buffers: readonly Slot[],
    workgroups: readonly [number, number?, number?],
    uniforms?: readonly UniformField[],
  ): void {
    const device = this.runtime.device;
    const guard = <T>(f: () => T) => this.guard(f);
    const entries: { buffer: GPUBuffer; size: number }[] = [];
    if (uniforms) {
      const data = packUniforms(uniforms);
      entries.push({ buffer: this.runtime.uniformBuffer(data, `${spec.name}:params`, guard), size: data.byteLength });
    }
    for (const slot of buffers) {
      this.use(slot);
      entries.push({ buffer: slot.buffer, size: Math.max(4, Math.ceil(slot.bytes / 4) * 4) });
    }
    if (entries.length !== spec.bindings.length) {
      throw new Error(`${spec.name}:${entry} binds ${entries.length} buffers, its layout has ${spec.bindings.length}`);
    }
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const bindGroup = this.runtime.bindGroup(spec, entries, guard);
    const pipeline = cachedKernelPipeline(device, spec, entry) ?? this.guard(() => kernelPipeline(device, spec, entry));
    let pass = this.pass;
    const label = this.stage ? `${this.stage}/${spec.name}:${entry}` : `${spec.name}:${entry}`;
    if (this.profile) {
      this.endPass();
      const timestampWrites = this.profile.next(label);
      pass = this.encoderNow().beginComputePass(timestampWrites ? { label: spec.name, timestampWrites } : { label: spec.name });
    } else if (!pass) {
      pass = this.pass = this.encoderNow().beginComputePass({ label: this.label });
    }
    // Entry points of one kernel share its bind-group layout, so a bound group survives a
    // pipeline change: set each only when it differs (CG iterations alternate pipelines).
    if (this.passPipeline !== pipeline || this.profile) pass.setPipeline(pipeline);
    if (this.passBindGroup !== bindGroup || this.profile) pass.setBindGroup(0, bindGroup);
    this.passPipeline = pipeline;
    this.passBindGroup = bindGroup;
    pass.dispatchWorkgroups(x, y, z);
    if (this.profile) pass.end();
    this.kernels.add(spec.name);
  }

  /** Schedules a copy of `slot` (or `bytes` of it from `offset`) to the host, read at the next flush. */
  read<T extends Typed>(slot: Slot, ctor: new (b: ArrayBuffer) => T, bytes = slot.bytes, offset = 0): Readback<T> {
    return this.schedule(slot, ctor, bytes, offset).target as Readback<T>;
  }

  /** Like `read`, as a promise; the flush happens at the end of the current task (reads share it). */
  download<T extends Typed>(slot: Slot, ctor: new (b: ArrayBuffer) => T, bytes = slot.bytes, offset = 0): Promise<T> {
    const pending = this.schedule(slot, ctor, bytes, offset);
    const promise = new Promise<T>((resolve, reject) => {
      pending.resolve = resolve as (v: Typed) => void;
      pending.reject = reject;
    });
    this.flushSoon();
    return promise;
  }

  /** Flushes once the code recording now yields; several downloads share the submission. */
  flushSoon(): Promise<void> {
    if (!this.flushScheduled) {
      this.flushScheduled = Promise.resolve().then(() => {
        this.flushScheduled = null;
        return this.flush();
      });
      this.flushScheduled.catch(() => {}); // the downloads' promises carry the error
    }
    return this.flushScheduled;
  }

  private schedule(slot: Slot, ctor: new (b: ArrayBuffer) => Typed, bytes: number, offset: number): PendingRead {
    this.endPass();
    this.use(slot);
    const size = Math.ceil(bytes / 4) * 4;
    const acquire = (n: number) => this.guard(() => this.runtime.pool.acquire(n, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${this.label}:read`));
    let staging: Slot;
    let at = 0;
    if (size > STAGING_SMALL) {
      staging = acquire(size);
    } else {
      if (!this.sharedStaging || this.sharedStaging.used + size > STAGING_SHARED) this.sharedStaging = { slot: acquire(STAGING_SHARED), used: 0 };
      staging = this.sharedStaging.slot;
      at = this.sharedStaging.used;
      this.sharedStaging.used += size;
    }
    if (size > 0) this.encoderNow().copyBufferToBuffer(slot.buffer, offset, staging.buffer, at, size);
    const pending: PendingRead = { staging, offset: at, bytes, ctor, target: { value: null } };
    this.reads.push(pending);
    return pending;
  }

  /** Records a buffer-to-buffer copy (for example, gathering a sub-range for the next kernel). */
  copy(from: Slot, fromOffset: number, to: Slot, toOffset: number, bytes: number): void {
    this.endPass();
    this.use(from);
    this.use(to);
    if (bytes > 0) this.encoderNow().copyBufferToBuffer(from.buffer, fromOffset, to.buffer, toOffset, bytes);
  }

  /**
   * Submits what is recorded so far and waits for its readbacks, keeping this recorder's
   * tensors: later dispatches may go on using them (an iteration that checks convergence).
   * Commands recorded while it waits go into the next submission.
   */
  async flush(): Promise<void> {
    const { device, pool, transfers } = this.runtime;
    this.endPass();
    const reads = this.reads.splice(0);
    this.sharedStaging = null;
    const names = [...this.kernels].join(', ') || this.label;
    this.kernels.clear();
    if (this.runtime.lost) {
      this.failReads(reads, this.runtime.lost);
      throw this.runtime.lost;
    }
    const encoder = this.encoder;
    this.encoder = null;
    let timing = null;
    if (encoder) {
      timing = this.profile?.resolve(device, encoder) ?? null;
      this.guard(() => device.queue.submit([encoder.finish()]));
      transfers.submits++;
    }
    const errors = this.errors.splice(0);
    // Submitted: buffers released meanwhile may now go back to the pool.
    for (const tensor of this.used) tensor.settled();
    this.used.clear();
    try {
      const messages = await Promise.all(errors);
      if (this.runtime.lost) throw this.runtime.lost;
      const message = messages.find((m) => m !== null);
      if (message) throw new GpuValidationError(names, message);
      // The reads and the timestamps map together; values go out once both are in, so whoever
      // awaits a read also sees its kernels' timings.
      await Promise.all([
        ...stagingsOf(reads).map(async ([staging, mine]) => {
          const end = Math.max(...mine.map((r) => r.offset + Math.ceil(r.bytes / 4) * 4));
          if (end > 0) {
            transfers.maps++;
            await staging.buffer.mapAsync(GPUMapMode.READ, 0, end);
            const range = staging.buffer.getMappedRange(0, end);
            for (const r of mine) {
              transfers.readbackBytes += Math.ceil(r.bytes / 4) * 4;
              r.target.value = new r.ctor(range.slice(r.offset, r.offset + r.bytes));
            }
            staging.buffer.unmap();
          } else {
            for (const r of mine) r.target.value = new r.ctor(new ArrayBuffer(0));
          }
          pool.release(staging);
          for (const r of mine) r.released = true;
        }),
        timing ? this.profile!.collect(timing) : null,
      ]);
      for (const r of reads) r.resolve?.(r.target.value!);
    } catch (error) {
      // mapAsync rejects when the device goes away mid-run; report it as a loss, not a mystery.
      const lost = await this.runtime.lostWithin(100);
      const reason = lost ?? error;
      this.failReads(reads, reason);
      throw reason;
    } finally {
      for (const [staging, mine] of stagingsOf(reads)) if (!mine[0]!.released) pool.release(staging);
    }
  }

  private failReads(reads: PendingRead[], error: unknown): void {
    for (const r of reads) r.reject?.(error);
  }

  /** Submits everything recorded, waits for the readbacks, and gives back every tensor not kept. */
  async submit(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.end();
    }
  }

  /**
   * Gives back every tensor this recorder owns (not those it handed on with `keep`). Commands
   * still unsubmitted are submitted first, so nothing is returned to the pool while in use.
   */
  end(): void {
    if (this.ended) return;
    this.endPass();
    if (this.encoder && !this.runtime.lost) {
      const encoder = this.encoder;
      this.guard(() => this.runtime.device.queue.submit([encoder.finish()]));
      this.runtime.transfers.submits++;
    }
    this.encoder = null;
    for (const tensor of this.used) tensor.settled();
    this.used.clear();
    for (const tensor of this.owned) tensor.release();
    this.owned.clear();
    const unread = this.reads.splice(0);
    this.sharedStaging = null;
    for (const r of unread) r.reject?.(new Error(`${this.label}: ended before this read was flushed`));
    for (const [staging] of stagingsOf(unread)) this.runtime.pool.release(staging);
    this.ended = true;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
    this.passPipeline = null;
    this.passBindGroup = null;
  }
}

/** Reads grouped by the staging buffer they were copied into (several small reads share one). */
function stagingsOf(reads: readonly PendingRead[]): [Slot, PendingRead[]][] {
  const by = new Map<Slot, PendingRead[]>();
  for (const r of reads) by.set(r.staging, [...(by.get(r.staging) ?? []), r]);
  return [...by];
}

/** Workgroups for `count` items in groups of `size`, folded into 2-D past the 65,535 limit. */
export function grid(count: number, size: number, maxDim = 65535): [number, number] {
  const groups = Math.ceil(count / size);
  if (groups <= maxDim) return [groups, 1];
  const rows = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / rows), rows];
}
