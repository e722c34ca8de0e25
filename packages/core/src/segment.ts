/**
 * SynPo on a whole query volume (or one slice) from an annotated support volume: the support
 * slices and the query slices to segment, chosen as the paper's protocol does when the user
 * names none, then SynPo in batches, with a callback per slice (for `--dump`).
 *
 * Without ground truth for the query, its organ range is not known: by default the support's
 * organ range is carried over by relative position along z (slice z of nz sits at z / (nz − 1)),
 * and split into thirds matched to the support slices at 1/6, 1/2 and 5/6 of the support's range.
 */
import { ShapeError } from '@synpo/gpu';
import { PIXELS } from './backend.ts';
import type { PreparedVolume } from './preprocess.ts';
import { organRange, queryPart, supportSlices } from './protocol.ts';
import { Synpo, type SliceResult, type SupportEncoding } from './synpo.ts';

export interface SegmentVolumeRequest {
  synpo: Synpo;
  support: PreparedVolume;
  /** [nz][ROI·ROI] organ masks of the support volume. */
  supportMasks: Uint8Array;
  query: PreparedVolume;
  /** One support slice for every query slice, instead of the three of the protocol. */
  supportSlice?: number;
  /** Query slices to segment, inclusive; others stay empty. */
  range?: [number, number];
  /** Read back every intermediate for `onSlice` (the `--dump` files); the masks alone otherwise. */
  detail?: boolean;
  onSlice?(z: number, result: SliceResult, support: SupportEncoding, supportZ: number): Promise<void> | void;
  progress?(done: number, total: number, label: string): void;
}

export interface SegmentVolumeResult {
  /** [nz][ROI·ROI] predicted masks of the query. */
  masks: Uint8Array;
  range: [number, number];
  supportSlices: number[];
}

/** Maps the support's organ range onto a query of nz slices by relative position. */
export function carryRange([first, last]: [number, number], supportSlicesCount: number, nz: number): [number, number] {
  const rel = (z: number) => (supportSlicesCount > 1 ? z / (supportSlicesCount - 1) : 0.5);
  const to = (t: number) => Math.min(nz - 1, Math.max(0, Math.round(t * (nz - 1))));
  return [to(rel(first)), to(rel(last))];
}

export async function segmentVolume(req: SegmentVolumeRequest): Promise<SegmentVolumeResult> {
  const { synpo, support, query } = req;
  const range = organRange(req.supportMasks, support.nz);
  if (!range) throw new ShapeError('segment', `the organ is not in the support label volume ${support.volume.source}`);
  let chosen: number[];
  if (req.supportSlice !== undefined) {
    const z = req.supportSlice;
    if (!Number.isInteger(z) || z < 0 || z >= support.nz) throw new ShapeError('segment', `support slice ${z} is outside 0..${support.nz - 1}`);
    if (!req.supportMasks.subarray(z * PIXELS, (z + 1) * PIXELS).some((v) => v)) {
      throw new ShapeError('segment', `support slice ${z} has none of the organ; it is in slices ${range[0]}..${range[1]}`);
    }
    chosen = [z];
  } else {
    chosen = support.nz === 1 ? [0] : supportSlices(range);
  }
  const target = req.range ?? (query.nz === 1 ? [0, 0] as [number, number] : carryRange(range, support.nz, query.nz));
  if (target[0] < 0 || target[1] >= query.nz || target[0] > target[1]) {
    throw new ShapeError('segment', `query slice range ${target[0]}..${target[1]} is outside 0..${query.nz - 1}`);
  }
  const encodings: SupportEncoding[] = [];
  for (const z of chosen) {
    encodings.push(await synpo.prepareSupport({
      image: support.slices.subarray(z * PIXELS, (z + 1) * PIXELS),
      mask: req.supportMasks.subarray(z * PIXELS, (z + 1) * PIXELS),
    }, { ...(req.detail && { detail: true }) }));
  }
  const masks = new Uint8Array(query.nz * PIXELS);
  const total = target[1] - target[0] + 1;
  let done = 0;
  try {
    for (let part = 0; part < encodings.length; part++) {
      const zs: number[] = [];
      for (let z = target[0]; z <= target[1]; z++) if (encodings.length === 1 || queryPart(z, target) === part) zs.push(z);
      const batch = new Float32Array(zs.length * PIXELS);
      zs.forEach((z, k) => batch.set(query.slices.subarray(z * PIXELS, (z + 1) * PIXELS), k * PIXELS));
      await synpo.segment(encodings[part]!, batch, zs.length, zs.map((z) => ({ seed: z })), {
        ...(req.detail && { detail: true }),
        onBatch: async (first, results) => {
          for (let k = 0; k < results.length; k++) {
            const z = zs[first + k]!;
            masks.set(results[k]!.final, z * PIXELS);
            await req.onSlice?.(z, results[k]!, encodings[part]!, chosen[part]!);
            done++;
            req.progress?.(done, total, `slice ${z}`);
          }
        },
      });
    }
  } finally {
    for (const e of encodings) await synpo.releaseSupport(e);
  }
  return { masks, range: target, supportSlices: chosen };
}
