/**
 * Tensors: typed handles for data that SynPo's stages pass to each other. A `DeviceTensor`'s
 * bytes live in a pooled GPU buffer and stay there between kernels; a `HostTensor` holds a typed
 * array (the CPU references' form). Both have a dtype and a shape, so the same pipeline code runs
 * on either path and bytes cross to the host only where someone reads them.
 */
import type { Slot } from './buffer-pool.ts';
import type { GpuRuntime } from './runtime.ts';

/**
 * 'f32' and 'u32' are what they say; 'mask' is a 0/1 map, one u32 per value on the GPU (what the
 * kernels bind) and one byte per value on the host (what the CPU references and files use).
 */
export type DType = 'f32' | 'u32' | 'mask';

export type HostArray = Float32Array | Uint32Array | Uint8Array;

/** The host array type of each dtype. */
export interface HostArrayOf {
  f32: Float32Array;
  u32: Uint32Array;
  mask: Uint8Array;
}

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** A tensor of a known dtype (what streams and kernels take and give). */
export type T<D extends DType = DType> = Tensor & { readonly dtype: D };

/** Number of elements of a shape. */
export const elementCount = (shape: readonly number[]): number => shape.reduce((a, d) => a * d, 1);

export class HostTensor<D extends DType = DType> implements Tensor {
  constructor(
    readonly dtype: D,
    readonly shape: readonly number[],
    readonly data: HostArrayOf[D],
  ) {
    if (data.length !== elementCount(shape)) {
      throw new RangeError(`a ${dtype} tensor of shape [${shape.join(', ')}] needs ${elementCount(shape)} values, got ${data.length}`);
    }
  }
}

/**
 * Data on the GPU: a pooled buffer, its dtype and shape, and the runtime that owns the pool.
 * `release()` gives the buffer back to the pool; when commands that use it are recorded but not
 * yet submitted, the buffer goes back only after that submission (a later upload into a reused
 * buffer would otherwise overtake them on the queue).
 */
export class DeviceTensor<D extends DType = DType> implements Tensor, Slot {
  /** Open recorders whose unsubmitted commands use this tensor. */
  pendingUses = 0;
  private released = false;

  /**
   * `giveBack`, when given, is how an outside buffer (an ONNX Runtime output on the same device)
   * is let go instead of returning it to the pool.
   */
  constructor(
    readonly runtime: GpuRuntime,
    private readonly slot: Slot,
    public dtype: D,
    public shape: readonly number[],
    readonly label: string,
    private readonly giveBack: (() => void) | null = null,
  ) {}

  get buffer(): GPUBuffer {
    if (this.released) throw new Error(`${this.label}: this device tensor was released and cannot be used`);
    return this.slot.buffer;
  }

  /** Bytes the tensor holds (its buffer may be larger: pool buckets). */
  get bytes(): number {
    return this.slot.bytes;
  }

  get size(): number {
    return elementCount(this.shape);
  }

  get isReleased(): boolean {
    return this.released;
  }

  /** Gives the buffer back to the pool (after any pending submission that uses it). */
  release(): void {
    if (this.released) return;
    this.released = true;
    if (this.pendingUses === 0) this.returnSlot();
  }

  /** Called when a recorder that used this tensor has submitted its commands. */
  settled(): void {
    this.pendingUses--;
    if (this.released && this.pendingUses === 0) this.returnSlot();
  }

  private returnSlot(): void {
    if (this.giveBack) this.giveBack();
    else this.runtime.pool.release(this.slot);
  }
}
