/**
 * The GPU runtime: one device, its buffer pool and profiler, and recorders that put many
 * dispatches into one command encoder with one readback at the end of a stage.
 */
import { BufferPool, type Slot } from './buffer-pool.ts';
import { kernelLayout, kernelPipeline, type KernelSpec } from './pipeline-cache.ts';
import { Profiler } from './profiler.ts';
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

type Typed = Float32Array | Uint32Array | Int32Array;

export class GpuRuntime {
  readonly pool: BufferPool;
  readonly profiler: Profiler | null;
  /** Set once the device is lost; every later submit fails fast with it. */
  lost: DeviceLostError | null = null;

  /** Largest storage binding this runtime will create, in bytes. */
  readonly maxBindingBytes: number;

  constructor(readonly device: GPUDevice, options: RuntimeOptions = {}) {
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

  destroy(): void {
    this.pool.clear();
    this.profiler?.destroy();
  }
}

export interface Readback<T extends Typed> {
  /** Filled after `Recorder.submit()` resolves. */
  value: T | null;
}

/**
 * Collects dispatches for one stage. Buffers it hands out go back to the pool after submit;
 * readbacks are copied into staging buffers and mapped once, after the single submit.
 */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | null = null;
  private readonly slots: Slot[] = [];
  private readonly reads: { staging: Slot; bytes: number; ctor: new (b: ArrayBuffer) => Typed; target: Readback<Typed> }[] = [];
  private readonly kernels = new Set<string>();

  constructor(private readonly runtime: GpuRuntime, private readonly label: string) {
    this.encoder = runtime.device.createCommandEncoder({ label });
    runtime.device.pushErrorScope('validation');
    runtime.device.pushErrorScope('out-of-memory');
  }

  /** A storage buffer holding `data`. */
  upload(data: Typed, label: string): Slot {
    const slot = this.scratch(data.byteLength, label);
    this.runtime.device.queue.writeBuffer(slot.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return slot;
  }

  /** A storage buffer of `bytes` for a kernel to write; zero-filled when asked. */
  scratch(bytes: number, label: string, zero = false): Slot {
    const max = this.runtime.maxBindingBytes;
    if (bytes > max) {
      throw new RangeError(
        `${label} needs ${bytes} bytes, over the ${max}-byte storage binding limit of this device; split the batch`,
      );
    }
    const slot = this.runtime.pool.acquire(
      bytes,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
      label,
    );
    this.slots.push(slot);
    if (zero) {
      this.endPass();
      this.encoder.clearBuffer(slot.buffer, 0, Math.ceil(slot.bytes / 4) * 4);
    }
    return slot;
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
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (uniforms) {
      const data = packUniforms(uniforms);
      const slot = this.runtime.pool.acquire(data.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, `${spec.name}:params`);
      this.slots.push(slot);
      device.queue.writeBuffer(slot.buffer, 0, data);
      entries.push({ binding: binding++, resource: { buffer: slot.buffer, size: data.byteLength } });
    }
    for (const slot of buffers) {
      entries.push({ binding: binding++, resource: { buffer: slot.buffer, size: Math.max(4, Math.ceil(slot.bytes / 4) * 4) } });
    }
    if (binding !== spec.bindings.length) {
      throw new Error(`${spec.name}:${entry} binds ${binding} buffers, its layout has ${spec.bindings.length}`);
    }
    const [x, y = 1, z = 1] = workgroups;
    if (x === 0 || y === 0 || z === 0) return;
    const bindGroup = device.createBindGroup({ label: `${spec.name}:${entry}`, layout: kernelLayout(device, spec), entries });
    const pipeline = kernelPipeline(device, spec, entry);
    const profiler = this.runtime.profiler;
    let pass = this.pass;
    if (profiler) {
      this.endPass();
      const timestampWrites = profiler.next(`${spec.name}:${entry}`);
      pass = this.encoder.beginComputePass(timestampWrites ? { label: spec.name, timestampWrites } : { label: spec.name });
    } else if (!pass) {
      pass = this.pass = this.encoder.beginComputePass({ label: this.label });
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    if (profiler) pass.end();
    this.kernels.add(spec.name);
  }

  /** Schedules a copy of `slot` (or its first `bytes`) back to the CPU, read after submit. */
  read<T extends Typed>(slot: Slot, ctor: new (b: ArrayBuffer) => T, bytes = slot.bytes, offset = 0): Readback<T> {
    this.endPass();
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.runtime.pool.acquire(size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${this.label}:read`);
    if (size > 0) this.encoder.copyBufferToBuffer(slot.buffer, offset, staging.buffer, 0, size);
    const target: Readback<T> = { value: null };
    this.reads.push({ staging, bytes, ctor, target: target as Readback<Typed> });
    return target;
  }

  /** Records a buffer-to-buffer copy (for example, gathering a sub-range for the next kernel). */
  copy(from: Slot, fromOffset: number, to: Slot, toOffset: number, bytes: number): void {
    this.endPass();
    if (bytes > 0) this.encoder.copyBufferToBuffer(from.buffer, fromOffset, to.buffer, toOffset, bytes);
  }

  /**
   * Submits what is recorded so far and waits for its readbacks, keeping this recorder's
   * buffers: later dispatches may go on using them (an iteration that checks convergence).
   */
  async flush(): Promise<void> {
    const { device, pool, profiler } = this.runtime;
    this.endPass();
    const timing = profiler?.resolve(this.encoder) ?? null;
    device.queue.submit([this.encoder.finish()]);
    const names = [...this.kernels].join(', ') || this.label;
    const reads = this.reads.splice(0);
    this.kernels.clear();
    try {
      const oom = await device.popErrorScope();
      const invalid = await device.popErrorScope();
      if (this.runtime.lost) throw this.runtime.lost;
      if (invalid) throw new GpuValidationError(names, invalid.message);
      if (oom) throw new GpuValidationError(names, `out of memory: ${oom.message}`);
      await Promise.all(
        reads.map(async (r) => {
          if (r.bytes === 0) {
            r.target.value = new r.ctor(new ArrayBuffer(0));
            return;
          }
          await r.staging.buffer.mapAsync(GPUMapMode.READ, 0, Math.ceil(r.bytes / 4) * 4);
          r.target.value = new r.ctor(r.staging.buffer.getMappedRange(0, Math.ceil(r.bytes / 4) * 4).slice(0, r.bytes));
          r.staging.buffer.unmap();
        }),
      );
      if (timing) await profiler!.collect(timing);
    } catch (error) {
      this.release();
      // mapAsync rejects when the device goes away mid-run; report it as a loss, not a mystery.
      const lost = await this.runtime.lostWithin(100);
      throw lost ?? error;
    } finally {
      for (const r of reads) pool.release(r.staging);
    }
    this.encoder = device.createCommandEncoder({ label: this.label });
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
  }

  /** Submits everything recorded, waits for the readbacks, and returns the buffers to the pool. */
  async submit(): Promise<void> {
    const { device } = this.runtime;
    await this.flush();
    // flush() opened the next encoder's error scopes; nothing follows, so close them.
    this.encoder.finish();
    await device.popErrorScope();
    await device.popErrorScope();
    this.release();
  }

  private release(): void {
    for (const slot of this.slots.splice(0)) this.runtime.pool.release(slot);
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }
}

/** Workgroups for `count` items in groups of `size`, folded into 2-D past the 65,535 limit. */
export function grid(count: number, size: number, maxDim = 65535): [number, number] {
  const groups = Math.ceil(count / size);
  if (groups <= maxDim) return [groups, 1];
  const rows = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / rows), rows];
}
