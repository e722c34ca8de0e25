/**
 * GPU buffers reused by size bucket and usage (as onnxruntime's gpu-data-manager and tfjs's
 * buffer_manager do). A buffer goes back to the pool only after the submit that used it, so a
 * later submission may overwrite it safely (queue operations are ordered).
 */
export interface Slot {
  buffer: GPUBuffer;
  /** The bytes the caller asked for; the buffer itself may be larger (its bucket). */
  bytes: number;
}

export interface PoolStats {
  created: number;
  reused: number;
  /** Bytes held by buffers the pool created and has not destroyed. */
  allocatedBytes: number;
  /** Buffers currently handed out. */
  inUse: number;
}

const MIN_BUCKET = 256;

function bucketSize(bytes: number): number {
  let size = MIN_BUCKET;
  while (size < bytes) size *= 2;
  return size;
}

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly stats: PoolStats = { created: 0, reused: 0, allocatedBytes: 0, inUse: 0 };

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label: string): Slot {
    const size = bucketSize(Math.max(4, bytes));
    const key = `${usage}:${size}`;
    const reuse = this.free.get(key)?.pop();
    this.stats.inUse++;
    if (reuse) {
      this.stats.reused++;
      reuse.label = label;
      return { buffer: reuse, bytes };
    }
    this.stats.created++;
    this.stats.allocatedBytes += size;
    return { buffer: this.device.createBuffer({ label, size, usage }), bytes };
  }

  release(slot: Slot): void {
    const key = `${slot.buffer.usage}:${slot.buffer.size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(slot.buffer);
    this.stats.inUse--;
  }

  snapshot(): PoolStats {
    return { ...this.stats };
  }

  /** Destroys every pooled buffer (those handed out stay with their users). */
  clear(): void {
    for (const list of this.free.values()) {
      for (const buffer of list) {
        this.stats.allocatedBytes -= buffer.size;
        buffer.destroy();
      }
    }
    this.free.clear();
  }
}
