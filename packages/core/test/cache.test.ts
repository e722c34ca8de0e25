/** Caches bounded in bytes: the LRU itself, and long runs that stay under their bound. */
import { describe, expect, it } from 'vitest';
import { cpuKernels } from '@synpo/gpu';
import { ByteLru, CELLS, phantomPatient, PIXELS, Synpo, weightFreeBackend } from '../src/index.ts';
import { loadModels, onnxBackend } from '../src/onnx/index.ts';
import { fsSource, writeModelDir } from './fixtures/model-dir.ts';

describe('ByteLru', () => {
  it('evicts the least recently used entries to stay under its bound, and lets them go', () => {
    const gone: string[] = [];
    const lru = new ByteLru<{ name: string; bytes: number }>(
      100,
      (v) => v.bytes,
      (v) => gone.push(v.name),
    );
    lru.set('a', { name: 'a', bytes: 40 });
    lru.set('b', { name: 'b', bytes: 40 });
    lru.get('a'); // a is now the most recent
    lru.set('c', { name: 'c', bytes: 40 });
    expect(gone).toEqual(['b']);
    expect(lru.bytes).toBe(80);
    lru.set('huge', { name: 'huge', bytes: 101 }); // larger than the bound: not kept
    expect(lru.has('huge')).toBe(false);
    expect(gone).toEqual(['b', 'huge']);
    lru.set('d', { name: 'd', bytes: 100 });
    expect(gone).toEqual(['b', 'huge', 'a', 'c']);
    expect(lru.bytes).toBe(100);
    expect(() => new ByteLru(Number.NaN, () => 0)).toThrow(/bytes/);
  });
});

describe('a long run stays under its cache bound', () => {
  it("SynPo's encoding cache (CPU path)", async () => {
    const p = phantomPatient(3);
    const z = 14;
    const mask = Uint8Array.from(p.labels.data.subarray(z * PIXELS, (z + 1) * PIXELS), (v) => (v === 1 ? 1 : 0));
    // The weight-free encodings are (24 + 10) channels of 64×64 float32: 557,056 bytes a slice.
    const perSlice = (24 + 10) * CELLS * 4;
    const bound = 5 * perSlice + 1000;
    const synpo = new Synpo(weightFreeBackend(), cpuKernels(), { cacheBytes: bound, batchSize: 4 });
    const support = await synpo.prepareSupport({ image: p.image.data.subarray(z * PIXELS, (z + 1) * PIXELS), mask });
    const seen: number[] = [];
    for (let z0 = 4; z0 < 24; z0 += 4) {
      await synpo.segment(
        support,
        p.image.data.slice(z0 * PIXELS, (z0 + 4) * PIXELS),
        4,
        [0, 1, 2, 3].map((i) => ({ seed: z0 + i, key: `q:${z0 + i}` })),
      );
      seen.push(synpo.encodings.bytes);
    }
    expect(Math.max(...seen)).toBeLessThanOrEqual(bound);
    expect(synpo.encodings.size).toBe(5);
    expect(synpo.encodings.evictions).toBe(20 - 5);
  });

  it("the ONNX encoders' caches", async () => {
    const { models } = await loadModels(fsSource(writeModelDir()), 'cpu', () => {});
    // SAM 2.1's embedding and high-resolution features: (256·64² + 32·256² + 64·128²)·4 bytes a slice.
    const samSlice = (256 * 64 * 64 + 32 * 256 * 256 + 64 * 128 * 128) * 4;
    const bound = 2 * (3 * samSlice);
    const backend = onnxBackend(models!, { cacheBytes: bound });
    const p = phantomPatient(4, { slices: 12 });
    for (let z = 0; z < 12; z++) {
      await backend.sam.encodeSlices(p.image.data.subarray(z * PIXELS, (z + 1) * PIXELS), 1);
      await backend.dino.encodeSlices(p.image.data.subarray(z * PIXELS, (z + 1) * PIXELS), 1);
      expect(backend.sam.cache.bytes).toBeLessThanOrEqual(bound / 2);
      expect(backend.dino.cache.bytes).toBeLessThanOrEqual(bound / 2);
    }
    expect(backend.sam.cache.size).toBe(3);
    expect(backend.sam.cache.evictions).toBe(12 - 3);
    // What was evicted is encoded again, correctly: the decoder still finds its embedding.
    const image = p.image.data.subarray(0, PIXELS);
    const [mask] = await backend.decoder.decodeRequests([{ image, points: [{ x: 128, y: 128, label: 1 }] }]);
    expect(mask!.some((v) => v)).toBe(true);
  });
});
