/**
 * A least-recently-used cache bounded in bytes, not entries: encodings differ in size by two
 * orders of magnitude between backends (the weight-free grids: 0.5 MB a slice; DINOv2 ViT-g and
 * SAM 2.1: about 29 MB), so a bound in slices is either useless or a way to run out of memory.
 */
export class ByteLru<V> {
  private readonly map = new Map<string, { value: V; bytes: number }>();
  private held = 0;
  /** Entries let go to stay under the bound, since creation. */
  evictions = 0;

  /**
   * `sizeOf` gives an entry's bytes; `evicted` lets go of what an entry holds (GPU outputs) when
   * it leaves. An entry larger than the whole bound is not kept.
   */
  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
    private readonly evicted: (value: V) => void = () => {},
  ) {
    if (!(maxBytes >= 0)) throw new RangeError(`a cache bound must be a number of bytes ≥ 0, got ${maxBytes}`);
  }

  get(key: string): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    this.map.delete(key);
    this.map.set(key, hit);
    return hit.value;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, value: V): void {
    const old = this.map.get(key);
    if (old) {
      this.map.delete(key);
      this.held -= old.bytes;
      if (old.value !== value) this.evicted(old.value);
    }
    const bytes = this.sizeOf(value);
    if (bytes > this.maxBytes) {
      this.evicted(value);
      return;
    }
    for (const [k, e] of this.map) {
      if (this.held + bytes <= this.maxBytes) break;
      this.map.delete(k);
      this.held -= e.bytes;
      this.evictions++;
      this.evicted(e.value);
    }
    this.map.set(key, { value, bytes });
    this.held += bytes;
  }

  /** Lets go of one entry (what it holds is handed to `evicted`); false when it was not there. */
  delete(key: string): boolean {
    const hit = this.map.get(key);
    if (!hit) return false;
    this.map.delete(key);
    this.held -= hit.bytes;
    this.evicted(hit.value);
    return true;
  }

  /** Bytes held now (never more than `maxBytes`). */
  get bytes(): number {
    return this.held;
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    for (const e of this.map.values()) this.evicted(e.value);
    this.map.clear();
    this.held = 0;
  }
}

/** The default bound of all encoding caches together: room on a 16 GB machine for the rest. */
export const DEFAULT_CACHE_BYTES = 4 * 2 ** 30;
