/**
 * Tensor streams: the device-in/device-out form of every kernel SynPo's pipeline chains. A stream
 * takes tensors and returns tensors; on the GPU every call records into one command encoder and
 * nothing crosses to the host until `read` (or a random walker's convergence check) asks for it,
 * and on the CPU every call runs its reference at once. The pipeline is written once against
 * this interface, so both paths run the same sequence of stages.
 *
 * Ownership: everything a stream creates is released by `end()`, except what `keep()` hands
 * over. `resident()` tensors live as long as their owner object (released with `releaseResident`).
 */
import type { AnyKernelDef, DeviceInputs, HostInputs, KernelDef, KernelInputs, KernelOutputs, RecordContext, SolverDef } from './kernel-def.ts';
import type { ComputePath } from './kernels.ts';
import { recordPack, recordPackBits } from './kernels/refine/index.ts';
import { unpackBits } from './kernels/refine/reference.ts';
import type { GpuRuntime, Readback, Recorder } from './runtime.ts';
import { ShapeError } from './shapes.ts';
import { DeviceTensor, elementCount, HostTensor, type DType, type HostArrayOf, type T, type Tensor } from './tensor.ts';

export type { T } from './tensor.ts';

export interface TensorStream {
  readonly path: ComputePath;
  /** Largest tensor this stream can bind, in bytes (batch sizes are chosen from it). */
  readonly maxTensorBytes: number;
  /** Names the stage the following kernels belong to (profiler labels, CPU stage timings). */
  stage(name: string): void;

  /**
   * Runs one kernel (src/kernels/<name>/): its checks, then its recording on the GPU (outputs stay
   * on the device) or its CPU reference. A solver (the random walker) gives a promise.
   */
  run<I extends KernelInputs, P, O extends KernelOutputs>(def: KernelDef<I, P, O>, inputs: I, params: P): O;
  run<I extends KernelInputs, P, O extends KernelOutputs>(def: SolverDef<I, P, O>, inputs: I, params: P): Promise<O>;

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  /** The tensor's values on the host (on the GPU: one submission shared by the reads of a task). */
  read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]>;
  /** A mask's values as 0/1 (not 0 → 1); on the GPU they cross as bits, 32 to a word. */
  readMask(tensor: T<'mask'>): Promise<Uint8Array>;
  /**
   * Submits what is recorded and waits for it and its reads (on the GPU; a no-op on the CPU). The
   * tensors stay usable: work recorded after it goes into the next submission.
   */
  sync(): Promise<void>;
  /**
   * Whether every random-walker solve recorded ahead of its convergence check (a speculative
   * stream, see GpuStreamOptions) converged within the iterations recorded. Read it after a
   * `sync` or a read that followed the solves; always true on the CPU and on a checked stream.
   */
  settled(): boolean;
  /**
   * A tensor that lives as long as `owner` on this path, made once from `make()`: host data (it
   * goes up), or a tensor `make` computed on this stream (kept past the stream's end).
   */
  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D> | T<D>): T<D>;
  /** Releases the resident tensors of `owner` on this stream's device. */
  releaseResident(owner: object): void;
  /** Hands `tensor` to the caller: `end()` will not release it. */
  keep<D extends DType>(tensor: T<D>): T<D>;
  release(tensor: Tensor): void;
  /** Releases everything the stream made and did not hand over. */
  end(): void;

  /** Tensors joined along their first axis (batches of grids from several model runs). */
  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'>;
  /** The given rows (first axis) of a tensor, in the given order: [rows.length, …rest]. */
  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D>;
  /** Rows of several tensors of one row size, in the given order (take over many tensors). */
  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D>;
  /**
   * Runs of values (`length` elements from element `offset`) of tensors of one dtype, joined in
   * order into one flat tensor: a few values of many maps read back without the rest.
   */
  spans<D extends DType>(parts: readonly Span<D>[]): T<D>;
}

/** `length` elements of `tensor` from element `offset` (its flat order). */
export interface Span<D extends DType = DType> {
  tensor: T<D>;
  offset: number;
  length: number;
}

function checkSpans(parts: readonly Span[]): number {
  if (parts.length === 0) throw new ShapeError('spans', 'no spans to join');
  let total = 0;
  parts.forEach(({ tensor, offset, length }, i) => {
    if (tensor.dtype !== parts[0]!.tensor.dtype) throw new ShapeError('spans', `span ${i} is from a tensor of another dtype`);
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 1 || offset + length > elementCount(tensor.shape))
      throw new ShapeError('spans', `span ${i} (${length} from ${offset}) is outside its tensor's ${elementCount(tensor.shape)} values`);
    total += length;
  });
  return total;
}

const storeOf = (owner: object, stores: WeakMap<object, Map<string, Tensor>>): Map<string, Tensor> => {
  let map = stores.get(owner);
  if (!map) stores.set(owner, (map = new Map()));
  return map;
};

// ------------------------------------------------------------------------------------------
// GPU

const residentStores = new WeakMap<GpuRuntime, WeakMap<object, Map<string, Tensor>>>();

/** Releases the GPU tensors kept for `owner` on `runtime` (a support that is done with). */
export function releaseResident(runtime: GpuRuntime, owner: object): void {
  const map = residentStores.get(runtime)?.get(owner);
  if (!map) return;
  for (const t of map.values()) (t as DeviceTensor).release();
  residentStores.get(runtime)!.delete(owner);
}

export interface GpuStreamOptions {
  /**
   * Record each random-walker solve's first RANDOM_WALKER_CHECKS.first iterations with no host
   * check, and read the convergence flags with the stream's next submission instead: a chain then
   * needs no submission between its start and its reads. `settled()` says afterwards whether
   * every solve converged in time; when one did not, the caller runs the chain again on a checked
   * stream (solves are deterministic, so the results are the same as a checked run's).
   */
  speculative?: boolean;
}

export class GpuStream implements TensorStream {
  readonly path = 'gpu' as const;
  readonly rec: Recorder;
  private readonly speculative: boolean;
  /** The convergence flags of the solves recorded ahead of their checks. */
  private readonly checks: Readback<Float32Array>[] = [];
  private readonly context: RecordContext;

  constructor(
    readonly runtime: GpuRuntime,
    label: string,
    options: GpuStreamOptions = {},
  ) {
    this.rec = runtime.recorder(label);
    this.speculative = Boolean(options.speculative);
    this.context = { rec: this.rec, speculative: this.speculative, ahead: (flags) => this.checks.push(flags) };
  }

  run<I extends KernelInputs, P, O extends KernelOutputs>(def: KernelDef<I, P, O>, inputs: I, params: P): O;
  run<I extends KernelInputs, P, O extends KernelOutputs>(def: SolverDef<I, P, O>, inputs: I, params: P): Promise<O>;
  run(def: AnyKernelDef, inputs: KernelInputs, params: unknown): unknown {
    let onDevice: DeviceInputs<KernelInputs>;
    try {
      def.validate(inputs, params);
      onDevice = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t && this.dev(t)])) as DeviceInputs<KernelInputs>;
    } catch (error) {
      // A solver's bad call is a rejected promise, as on the CPU stream; the recording stays synchronous.
      if (def.solver) return Promise.reject(error);
      throw error;
    }
    return def.record(this.context, onDevice, params);
  }

  get maxTensorBytes(): number {
    return this.runtime.maxBindingBytes;
  }

  stage(name: string): void {
    this.rec.stage = name;
  }

  private dev<D extends DType>(t: T<D>): DeviceTensor<D> {
    if (!(t instanceof DeviceTensor)) throw new TypeError('a GPU stream takes device tensors (upload host data first)');
    return t as DeviceTensor<D>;
  }

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  upload(data: Float32Array | Uint32Array | Uint8Array, shape: readonly number[]): T {
    if (data.length !== elementCount(shape)) throw new ShapeError('upload', `${data.length} values for shape [${shape.join(', ')}]`);
    if (data instanceof Uint8Array) return this.rec.upload(Uint32Array.from(data), 'upload:mask', 'mask', shape);
    return this.rec.upload(data, 'upload', data instanceof Float32Array ? 'f32' : 'u32', shape);
  }

  async read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]> {
    const t = this.dev(tensor);
    const n = t.size;
    if (t.dtype === 'mask') {
      // Four values to a word on the device: a quarter of the bytes cross.
      const words = await this.rec.download(recordPack(this.rec, t, n), Uint32Array);
      return new Uint8Array(words.buffer, 0, n) as HostArrayOf[D];
    }
    const values = t.dtype === 'f32' ? await this.rec.download(t, Float32Array, n * 4) : await this.rec.download(t, Uint32Array, n * 4);
    return values as HostArrayOf[D];
  }

  async readMask(tensor: T<'mask'>): Promise<Uint8Array> {
    const t = this.dev(tensor);
    return unpackBits(await this.rec.download(recordPackBits(this.rec, t, t.size), Uint32Array), t.size);
  }

  sync(): Promise<void> {
    return this.rec.flush();
  }

  settled(): boolean {
    // The flags are [B][8] per solve; index 6 is a slice's done flag.
    return this.checks.every((c) => {
      if (!c.value) throw new Error(`${this.rec.label}: settled() asked before the solves' flags were read (sync first)`);
      return c.value.every((v, i) => i % 8 !== 6 || v !== 0);
    });
  }

  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D> | T<D>): T<D> {
    let stores = residentStores.get(this.runtime);
    if (!stores) residentStores.set(this.runtime, (stores = new WeakMap()));
    const map = storeOf(owner, stores);
    let t = map.get(key) as DeviceTensor<D> | undefined;
    if (!t || t.isReleased) {
      const made = make();
      const dev = made instanceof HostTensor ? (this.upload(made.data as never, made.shape) as unknown as DeviceTensor) : this.dev(made);
      t = this.rec.keep(dev, made.dtype, made.shape);
      map.set(key, t);
    }
    return t;
  }

  releaseResident(owner: object): void {
    releaseResident(this.runtime, owner);
  }

  keep<D extends DType>(tensor: T<D>): T<D> {
    const t = this.dev(tensor);
    return this.rec.keep(t, t.dtype, t.shape);
  }

  release(tensor: Tensor): void {
    this.rec.release(this.dev(tensor as T));
  }

  end(): void {
    this.rec.end();
  }

  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'> {
    const out = this.rec.scratch(elementCount(shape) * 4, 'concat', false, 'f32', shape);
    let offset = 0;
    for (const part of parts) {
      const d = this.dev(part);
      this.rec.copy(d, 0, out, offset, d.size * 4);
      offset += d.size * 4;
    }
    if (offset !== out.bytes) throw new ShapeError('concat', `the parts hold ${offset / 4} values, the shape [${shape.join(', ')}] ${out.size}`);
    return out as DeviceTensor<'f32'>;
  }

  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D> {
    const t = this.dev(tensor);
    const rowBytes = (t.size / t.shape[0]!) * 4;
    const shape = [rows.length, ...t.shape.slice(1)];
    const out = this.rec.scratch(rows.length * rowBytes, 'take', false, t.dtype, shape);
    rows.forEach((r, i) => {
      if (!(r >= 0 && r < t.shape[0]!)) throw new ShapeError('take', `row ${r} is outside 0..${t.shape[0]! - 1}`);
      this.rec.copy(t, r * rowBytes, out, i * rowBytes, rowBytes);
    });
    return out as DeviceTensor<D>;
  }

  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D> {
    if (rows.length === 0) throw new ShapeError('gather', 'no rows to gather');
    const first = this.dev(rows[0]!.tensor);
    const rowBytes = (first.size / first.shape[0]!) * 4;
    const out = this.rec.scratch(rows.length * rowBytes, 'gather', false, first.dtype, [rows.length, ...first.shape.slice(1)]);
    rows.forEach(({ tensor, row }, i) => {
      const t = this.dev(tensor);
      if ((t.size / t.shape[0]!) * 4 !== rowBytes || t.dtype !== first.dtype)
        throw new ShapeError('gather', `row ${i} is from a tensor of another row size or dtype`);
      if (!(row >= 0 && row < t.shape[0]!)) throw new ShapeError('gather', `row ${row} is outside 0..${t.shape[0]! - 1}`);
      this.rec.copy(t, row * rowBytes, out, i * rowBytes, rowBytes);
    });
    return out as DeviceTensor<D>;
  }

  spans<D extends DType>(parts: readonly Span<D>[]): T<D> {
    const total = checkSpans(parts);
    const first = this.dev(parts[0]!.tensor);
    const out = this.rec.scratch(total * 4, 'spans', false, first.dtype, [total]);
    let at = 0;
    for (const { tensor, offset, length } of parts) {
      this.rec.copy(this.dev(tensor), offset * 4, out, at * 4, length * 4);
      at += length;
    }
    return out as DeviceTensor<D>;
  }

  /**
   * A buffer made elsewhere on this device (an ONNX Runtime output) as a tensor of this stream,
   * without a copy; `dispose` lets it go once the stream ends and its commands are submitted.
   */
  adoptBuffer(buffer: GPUBuffer, shape: readonly number[], dispose: () => void): T<'f32'> {
    const t = new DeviceTensor(this.runtime, { buffer, bytes: elementCount(shape) * 4 }, 'f32', shape, 'adopted', dispose);
    return this.rec.adopt(t) as DeviceTensor<'f32'>;
  }
}

// ------------------------------------------------------------------------------------------
// CPU

const cpuResident = new WeakMap<object, Map<string, Tensor>>();

/** The CPU references behind the same interface: every call computes at once. */
export class CpuStream implements TensorStream {
  readonly path = 'cpu' as const;
  readonly maxTensorBytes = Infinity;
  /** Milliseconds per stage, when timing is on (the benchmark's split). */
  readonly stageMs = new Map<string, number>();
  private current = '';

  constructor(private readonly timing = false) {}

  stage(name: string): void {
    this.current = name;
  }

  run<I extends KernelInputs, P, O extends KernelOutputs>(def: KernelDef<I, P, O>, inputs: I, params: P): O;
  run<I extends KernelInputs, P, O extends KernelOutputs>(def: SolverDef<I, P, O>, inputs: I, params: P): Promise<O>;
  run(def: AnyKernelDef, inputs: KernelInputs, params: unknown): unknown {
    const compute = () => {
      for (const t of Object.values(inputs)) if (t) this.h(t);
      // The checks see shapes only: the reference checks the values itself (once, not twice).
      def.validate(Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, t && { dtype: t.dtype, shape: t.shape }])), params);
      return this.time(() => def.reference(inputs as HostInputs<KernelInputs>, params));
    };
    // A solver's failure is a rejected promise, as on the GPU.
    return def.solver ? Promise.resolve().then(compute) : compute();
  }

  private h<D extends DType>(t: T<D>): HostArrayOf[D] {
    if (!(t instanceof HostTensor)) throw new TypeError('a CPU stream takes host tensors');
    return t.data as HostArrayOf[D];
  }

  private time<R>(f: () => R): R {
    if (!this.timing) return f();
    const t0 = performance.now();
    try {
      return f();
    } finally {
      this.stageMs.set(this.current, (this.stageMs.get(this.current) ?? 0) + performance.now() - t0);
    }
  }

  private t<D extends DType>(dtype: D, shape: readonly number[], data: HostArrayOf[D]): T<D> {
    return new HostTensor(dtype, shape, data);
  }

  upload(data: Float32Array, shape: readonly number[]): T<'f32'>;
  upload(data: Uint32Array, shape: readonly number[]): T<'u32'>;
  upload(data: Uint8Array, shape: readonly number[]): T<'mask'>;
  upload(data: Float32Array | Uint32Array | Uint8Array, shape: readonly number[]): T {
    const dtype: DType = data instanceof Float32Array ? 'f32' : data instanceof Uint32Array ? 'u32' : 'mask';
    return new HostTensor(dtype, shape, data);
  }

  async read<D extends DType>(tensor: T<D>): Promise<HostArrayOf[D]> {
    return this.h(tensor);
  }

  async readMask(tensor: T<'mask'>): Promise<Uint8Array> {
    return this.h(tensor).map((v) => (v ? 1 : 0));
  }

  async sync(): Promise<void> {}

  settled(): boolean {
    return true;
  }

  resident<D extends DType>(owner: object, key: string, make: () => HostTensor<D> | T<D>): T<D> {
    const map = storeOf(owner, cpuResident);
    let t = map.get(key) as HostTensor<D> | undefined;
    if (!t) map.set(key, (t = make() as HostTensor<D>)); // every tensor of the CPU path is on the host
    return t;
  }

  releaseResident(owner: object): void {
    cpuResident.delete(owner);
  }

  keep<D extends DType>(tensor: T<D>): T<D> {
    return tensor;
  }

  release(): void {}
  end(): void {}

  concat(parts: readonly T<'f32'>[], shape: readonly number[]): T<'f32'> {
    const out = new Float32Array(elementCount(shape));
    let offset = 0;
    for (const part of parts) {
      out.set(this.h(part), offset);
      offset += this.h(part).length;
    }
    if (offset !== out.length) throw new ShapeError('concat', `the parts hold ${offset} values, the shape [${shape.join(', ')}] ${out.length}`);
    return this.t('f32', shape, out);
  }

  take<D extends DType>(tensor: T<D>, rows: readonly number[]): T<D> {
    const data = this.h(tensor);
    const row = data.length / tensor.shape[0]!;
    const out = new (data.constructor as new (n: number) => HostArrayOf[D])(rows.length * row);
    rows.forEach((r, i) => {
      if (!(r >= 0 && r < tensor.shape[0]!)) throw new ShapeError('take', `row ${r} is outside 0..${tensor.shape[0]! - 1}`);
      out.set(data.subarray(r * row, (r + 1) * row) as never, i * row);
    });
    return this.t(tensor.dtype, [rows.length, ...tensor.shape.slice(1)], out);
  }

  gather<D extends DType>(rows: readonly { tensor: T<D>; row: number }[]): T<D> {
    if (rows.length === 0) throw new ShapeError('gather', 'no rows to gather');
    const first = rows[0]!.tensor;
    const size = this.h(first).length / first.shape[0]!;
    const out = new (this.h(first).constructor as new (n: number) => HostArrayOf[D])(rows.length * size);
    rows.forEach(({ tensor, row }, i) => {
      const data = this.h(tensor);
      if (data.length / tensor.shape[0]! !== size || tensor.dtype !== first.dtype)
        throw new ShapeError('gather', `row ${i} is from a tensor of another row size or dtype`);
      if (!(row >= 0 && row < tensor.shape[0]!)) throw new ShapeError('gather', `row ${row} is outside 0..${tensor.shape[0]! - 1}`);
      out.set(data.subarray(row * size, (row + 1) * size) as never, i * size);
    });
    return this.t(first.dtype, [rows.length, ...first.shape.slice(1)], out);
  }

  spans<D extends DType>(parts: readonly Span<D>[]): T<D> {
    const total = checkSpans(parts);
    const first = this.h(parts[0]!.tensor);
    const out = new (first.constructor as new (n: number) => HostArrayOf[D])(total);
    let at = 0;
    for (const { tensor, offset, length } of parts) {
      out.set(this.h(tensor).subarray(offset, offset + length) as never, at);
      at += length;
    }
    return this.t(parts[0]!.tensor.dtype, [total], out);
  }
}
