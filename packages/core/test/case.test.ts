/**
 * `segmentCase`, the one case flow of `synpo segment`, `batch` and `queue`: a support and a query
 * as files give the label map on the query file's own grid, the same as preparing the volumes and
 * running `segmentOrgans` by hand; and cases that cannot work are refused with the files' names.
 */
import { cpuKernels, createRng, ShapeError } from '@synpo/gpu';
import { describe, expect, it } from 'vitest';
import {
  checkCase,
  dice,
  labelsToRoi,
  overlap,
  percentile,
  phantomPatient,
  prepareVolume,
  roiToVolume,
  segmentCase,
  segmentOrgans,
  Synpo,
  weightFreeBackend,
  CHAOS_T2,
} from '../src/index.ts';

const slices = 12;
const support = phantomPatient(1, { slices });
const query = phantomPatient(2, { slices });
const named = (p: ReturnType<typeof phantomPatient>, tag: string) => ({
  image: { ...p.image, source: `${tag}-image.nii.gz` },
  labels: { ...p.labels, source: `${tag}-label.nii.gz` },
});

describe('segmentCase', () => {
  it('gives the label map segmentOrgans gives, on the query file grid', async () => {
    const kernels = cpuKernels();
    const organs = [
      { name: 'liver', value: 1, written: 1 },
      { name: 'spleen', value: 4, written: 7 },
    ];
    const options = { seed: 3 };
    const result = await segmentCase({
      backend: weightFreeBackend(),
      kernels,
      supportImage: support.image,
      supportLabel: support.labels,
      query: query.image,
      organs,
      band: 'chaos-t2',
      options,
    });
    // By hand: prepare both volumes, take each organ's support masks, segment, map back.
    const s = prepareVolume(support.image);
    const q = prepareVolume(query.image);
    const byHand = await segmentOrgans({
      synpo: new Synpo(weightFreeBackend(), kernels, { ...options, points: { ...CHAOS_T2.band } }),
      support: s,
      query: q,
      organs: organs.map((o) => ({ name: o.name, value: o.written, masks: labelsToRoi(support.labels, s, o.value) })),
    });
    const want = roiToVolume(byHand.labels, q, 'as-is');
    expect(result.fileLabels.length).toBe(query.image.data.length);
    expect(Buffer.from(result.fileLabels.buffer).equals(Buffer.from(want.buffer))).toBe(true);
    // The written values, and a mask that finds the organs.
    expect(new Set(result.fileLabels)).toEqual(new Set([0, 1, 7]));
    const liver = Uint8Array.from(query.labels.data, (v) => (v === 1 ? 1 : 0));
    expect(
      dice(
        overlap(
          Uint8Array.from(result.fileLabels, (v) => (v === 1 ? 1 : 0)),
          liver,
        ),
      ),
    ).toBeGreaterThan(0.6);
  }, 120_000);

  it('refuses labels on another grid, and a slice against a volume, naming the files', () => {
    const s = named(support, 'support');
    const q = named(query, 'query');
    const small = phantomPatient(1, { slices: 5 });
    expect(() => checkCase(s.image, { ...small.labels, source: 'other-label.nii.gz' }, q.image)).toThrow(ShapeError);
    expect(() => checkCase(s.image, { ...small.labels, source: 'other-label.nii.gz' }, q.image)).toThrow(
      /support label other-label\.nii\.gz is .* the support image support-image\.nii\.gz is .*; they must share one grid/,
    );
    const oneSlice = {
      ...q.image,
      dims: [q.image.dims[0]!, q.image.dims[1]!, 1] as [number, number, number],
      data: q.image.data.subarray(0, q.image.dims[0]! * q.image.dims[1]!),
    };
    expect(() => checkCase(s.image, s.labels, oneSlice)).toThrow(/the support is 3-D .* but the query is 2-D/);
    // A slice cut from a volume is allowed (it is normalised with its volume).
    expect(() => checkCase(s.image, s.labels, oneSlice, { querySliceOfVolume: true })).not.toThrow();
  });
});

describe('percentile', () => {
  it('is the value sorting would give, for any size, ties and order', () => {
    const rng = createRng(4);
    const arrays = [
      Float32Array.of(3),
      Float32Array.from({ length: 1000 }, () => Math.floor(rng() * 7)), // many ties
      Float32Array.from({ length: 4097 }, (_, i) => i), // sorted
      Float32Array.from({ length: 4097 }, (_, i) => -i), // reversed
      Float32Array.from({ length: 2_500_001 }, () => rng() * 1000 - 500), // sampled every 2nd value
    ];
    for (const data of arrays) {
      const step = Math.max(1, Math.floor(data.length / 1_000_000));
      const sample = Float32Array.from({ length: Math.ceil(data.length / step) }, (_, k) => data[k * step]!).sort();
      for (const p of [0, 1, 50, 99.5, 100]) expect(percentile(data, p)).toBe(sample[Math.min(sample.length - 1, Math.floor((p / 100) * (sample.length - 1)))]);
    }
  });
});
