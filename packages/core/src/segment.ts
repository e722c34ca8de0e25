/**
 * SynPo on a whole query volume (or one slice) from an annotated support volume: the support
 * slices and the query slices to segment, chosen as the paper's protocol does when the user
 * names none, then SynPo in batches, with a callback per slice (for `--dump`).
 *
 * Without ground truth for the query, its organ range is not known: by default the support's
 * organ range is carried over by relative position along the body axis, and split into thirds
 * matched to the support slices at 1/6, 1/2 and 5/6 of the support's range. Slice indices here
 * are canonical (feet to head, see preprocess.ts), so relative index is relative world position
 * within each volume's extent along the body axis, whatever order or spacing the files use.
 */
import { ShapeError, type TransferCounts } from '@synpo/gpu';
import { VOXEL_FORMATS, voxelFormat } from '@synpo/gpu/kernels';
import { PIXELS } from './backend.ts';
import { ATLAS_CELLS, atlasTransform, meanAtlas, organAtlas, organGrowth, refineShift, type AtlasTransform } from './atlas.ts';
import { confidenceAt, sharedCellCount } from './overlap.ts';
import { MAX_LABEL, voxelSlices, type PreparedVolume } from './preprocess.ts';
import { anySet, organRange, queryPart, supportSlices } from './protocol.ts';
import { Synpo, type HostEncoding, type SliceResult, type SupportEncoding } from './synpo.ts';
import { DEFAULT_OPTIONS, type PointSelectionOptions, type PropagationOptions } from './options.ts';

export interface SegmentVolumeRequest {
  synpo: Synpo;
  support: SliceStack;
  /** [nz][ROI·ROI] organ masks of the support volume. */
  supportMasks: Uint8Array;
  query: SliceStack;
  /** One support slice for every query slice, instead of the three of the protocol. */
  supportSlice?: number;
  /** Query slices to segment, inclusive; others stay empty. */
  range?: [number, number];
  /** The atlas prior (SegmentOrgansRequest.atlas): on unless false. */
  atlas?: boolean;
  /** Read back every intermediate for `onSlice` (the `--dump` files); the masks alone otherwise. */
  detail?: boolean;
  onSlice?(z: number, result: SliceResult, support: SupportEncoding, supportZ: number): Promise<void> | void;
  progress?(done: number, total: number, label: string): void;
}

/**
 * What segmenting needs of a prepared volume: its canonical ROI slices, and the file's name for
 * messages. A PreparedVolume is one; a worker can be sent just these (they clone and transfer).
 */
export type SliceStack = Pick<PreparedVolume, 'slices' | 'nz'> & Partial<Pick<PreparedVolume, 'intensity' | 'voxels'>> & { volume?: { source?: string } };

export interface SegmentVolumeResult {
  /** [nz][ROI·ROI] predicted masks of the query. */
  masks: Uint8Array;
  range: [number, number];
  supportSlices: number[];
  /** Slices segmented again by the propagation pass (0 when it is off). */
  propagatedSlices: number;
  /** Query slices encoded (each once, with or without the propagation pass). */
  encodedSlices: number;
}

/**
 * Maps the support's organ range onto a query of nz canonical slices by relative position along
 * the body axis: slice z of nz sits at z / (nz − 1) of the volume's superior–inferior extent.
 */
export function carryRange([first, last]: [number, number], supportSlicesCount: number, nz: number): [number, number] {
  const rel = (z: number) => (supportSlicesCount > 1 ? z / (supportSlicesCount - 1) : 0.5);
  const to = (t: number) => Math.min(nz - 1, Math.max(0, Math.round(t * (nz - 1))));
  return [to(rel(first)), to(rel(last))];
}

/**
 * The protocol's support slice for canonical query slice z of a volume of `queryNz` slices: the
 * one matched to the third of the carried-over organ range that z falls in (the nearest third
 * when z lies outside the range). A single query slice cut from a volume uses it.
 */
export function supportSliceFor(supportMasks: Uint8Array, supportNz: number, z: number, queryNz: number): number {
  const range = organRange(supportMasks, supportNz);
  if (!range) throw new ShapeError('segment', 'the organ is not in the support label volume');
  const chosen = supportNz === 1 ? [0, 0, 0] : supportSlices(range, { masks: supportMasks, nz: supportNz });
  const target = carryRange(range, supportNz, queryNz);
  const inside = Math.min(target[1], Math.max(target[0], z));
  return chosen[queryPart(inside, target)]!;
}

/** One organ of a multi-organ run: its name, the label value it is written with, its support masks. */
export interface OrganRequest {
  name: string;
  value: number;
  /** [nz][ROI·ROI] the organ's masks on the support volume. */
  masks: Uint8Array;
  /** Query slices for this organ, inclusive (default: the support's range carried over). */
  range?: [number, number];
  /**
   * The organ's atlas over its query range, made elsewhere (`carriedAtlas`): a query slice cut from
   * a volume takes its map from the whole volume's, so it is segmented as the whole-volume run does.
   */
  atlas?: CarriedAtlas;
}

/** An organ's atlas: one map per query slice of its range, the transform (with the organ's enlargement) and the time it took. */
export interface CarriedAtlas {
  maps: Float32Array[];
  /** For a slice cut from a volume: the sum of the maps of its third there (SegmentJob.placement). */
  placement?: Float32Array;
  /** The spine's or the body's transform; on CT (the spine's) `body` is the body-anchored one whose map is averaged in. */
  transform: AtlasTransform & { body?: AtlasTransform; grow: number; ms: number };
}

/**
 * The support's organ carried onto `target` (query slices, inclusive): landmarks, the shift
 * search, the maps (on CT the mean of the spine's and the body's: meanAtlas); `growth` is AtlasOptions' (a Synpo's options.atlas.growth; the default's when left out).
 */
export function carriedAtlas(
  support: SliceStack,
  masks: Uint8Array,
  query: SliceStack,
  target: [number, number],
  growth: number = DEFAULT_OPTIONS.atlas.growth,
): CarriedAtlas {
  const t0 = performance.now();
  const range = organRange(masks, support.nz);
  if (!range) throw new ShapeError('segment', 'the organ is not in the support label volume');
  const supportSide = { volume: support, range };
  const querySide = { volume: query, range: target };
  const transform = refineShift(supportSide, masks, querySide, atlasTransform(supportSide, querySide));
  const grow = organGrowth(masks, support.nz, growth);
  let maps = organAtlas(supportSide, masks, querySide, transform, grow);
  // On CT, the organ carried from the body's centre as well, the atlas the mean of both (meanAtlas).
  const body = transform.anchor === 'spine' ? refineShift(supportSide, masks, querySide, atlasTransform(supportSide, querySide, 'body')) : undefined;
  if (body) maps = meanAtlas(maps, organAtlas(supportSide, masks, querySide, body, grow));
  return { maps, transform: { ...transform, ...(body && { body }), grow, ms: performance.now() - t0 } };
}

export interface SegmentOrgansRequest {
  synpo: Synpo;
  support: SliceStack;
  organs: readonly OrganRequest[];
  query: SliceStack;
  /** One support slice for every query slice, instead of the three of the protocol. */
  supportSlice?: number;
  /**
   * When the query was cut from a larger volume: the index its first slice had there. Slice
   * seeds follow it, so a slice gets the random choices it gets in the whole-volume run.
   */
  sliceOffset?: number;
  /** Read back every intermediate for `onSlice` (the `--dump` files). */
  detail?: boolean;
  onSlice?(z: number, organ: string, result: SliceResult, support: SupportEncoding, supportZ: number): Promise<void> | void;
  progress?(done: number, total: number, label: string): void;
  /**
   * Keep each organ's fused confidence per slice in the result (`OrganResult.confidence`), so
   * organs segmented in separate calls (workers) can be combined with `combineOrgans` exactly as
   * one call combines them.
   */
  keepConfidence?: boolean;
  /**
   * The atlas prior (atlas.ts): each organ of the support carried onto the query slices of its
   * range, the fused confidence lowered away from it. On unless false (the paper's protocol has none).
   */
  atlas?: boolean;
  /**
   * Query slices encoded already, by slice index (on the CPU path, the share another thread
   * encoded: segmentOrgansOnThreads). They go to the host cache and are not encoded again; the
   * GPU path encodes on the device and does not use them.
   */
  encodings?: ReadonlyMap<number, HostEncoding>;
}

export interface OrganResult {
  name: string;
  value: number;
  /** [nz][ROI·ROI] this organ's own masks (before overlaps are resolved). */
  masks: Uint8Array;
  range: [number, number];
  supportSlices: number[];
  /** Slice → its 64×64 fused confidence (first pass), with `keepConfidence`. */
  confidence?: Map<number, Float32Array>;
  /** With `atlas`: the in-plane map from query to support pixels, and the time it took (with the warped maps). */
  atlas?: CarriedAtlas['transform'];
}

export interface SegmentOrgansResult {
  /** [nz][ROI·ROI] every organ's value (1…65535) where it won; 0 elsewhere. */
  labels: Uint16Array;
  organs: OrganResult[];
  /** The union of the organs' ranges: the query slices that were encoded. */
  range: [number, number];
  /**
   * Query slices encoded, against the organ-slices segmented on them: each slice once, whatever
   * the number of organs and passes (the propagation pass takes its encodings from the caches).
   */
  encodedSlices: number;
  organSlices: number;
  /** ROI pixels claimed by more than one organ, each given to the organ of higher fused confidence. */
  overlapPixels: number;
  /** Query slices of the range that are blank (one intensity throughout): left empty, not segmented. */
  blankSlices: number[];
  /**
   * Organ-slices the per-slice pass segmented on their own (all of them without propagation; with
   * it, the anchor's candidates: PropagationOptions.anchorStride).
   */
  perSliceSlices: number;
  /** Slices segmented by the propagation pass (0 when it is off), and its steps (chains). */
  propagatedSlices: number;
  propagationSteps: number;
  /**
   * What crossed between host and GPU for this volume (GPU path; null on the CPU), and the chains
   * that ran speculatively (one submission each) and had to run again checked.
   */
  transfers: TransferCounts | null;
  speculation: { chains: number; rerun: number };
}

/** segmentOrgans calls so far: each one's encoding-cache keys are its own. */
let calls = 0;

/** A slice of one intensity throughout holds no organ: prompting it would only invent one. */
export function isBlank(slice: Float32Array): boolean {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < slice.length; i++) {
    const v = slice[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi - lo < 1e-6;
}

/** The support slices of one organ and its query range. */
export interface OrganPlan {
  chosen: number[];
  target: [number, number];
}

/** Which of the plan's support slices query slice z (inside the target range) is matched to. */
export const partOf = (plan: OrganPlan, z: number) => (plan.chosen.length === 1 ? 0 : queryPart(z, plan.target));

/** The support slices and query range of one organ, by the protocol unless given. */
function organPlan(req: Pick<SegmentOrgansRequest, 'support' | 'query' | 'supportSlice'>, organ: OrganRequest): OrganPlan {
  const { support, query } = req;
  const range = organRange(organ.masks, support.nz);
  if (!range)
    throw new ShapeError('segment', `the organ ${organ.name} is not in the support label volume${support.volume?.source ? ` ${support.volume.source}` : ''}`);
  let chosen: number[];
  if (req.supportSlice !== undefined) {
    const z = req.supportSlice;
    if (!Number.isInteger(z) || z < 0 || z >= support.nz) throw new ShapeError('segment', `support slice ${z} is outside 0..${support.nz - 1}`);
    if (!anySet(organ.masks, z * PIXELS, (z + 1) * PIXELS)) {
      throw new ShapeError('segment', `support slice ${z} has none of the ${organ.name}; it is in slices ${range[0]}..${range[1]}`);
    }
    chosen = [z];
  } else {
    chosen = support.nz === 1 ? [0] : supportSlices(range, { masks: organ.masks, nz: support.nz });
  }
  const target = organ.range ?? (query.nz === 1 ? ([0, 0] as [number, number]) : carryRange(range, support.nz, query.nz));
  if (target[0] < 0 || target[1] >= query.nz || target[0] > target[1]) {
    throw new ShapeError('segment', `query slice range ${target[0]}..${target[1]} is outside 0..${query.nz - 1}`);
  }
  return { chosen, target };
}

/**
 * Several organs of one query volume in one pass: each query slice of the organs' ranges is
 * encoded once, and every organ runs the post-encoder stages on the shared features with its own
 * support slices. Where organs overlap, the pixel goes to the organ whose fused confidence
 * (bilinear from its 64×64 map) is higher there.
 */
export async function segmentOrgans(req: SegmentOrgansRequest): Promise<SegmentOrgansResult> {
  const { synpo, support, query } = req;
  if (req.organs.length === 0) throw new ShapeError('segment', 'no organ to segment');
  for (const organ of req.organs) {
    if (!Number.isInteger(organ.value) || organ.value < 1 || organ.value > MAX_LABEL) {
      throw new ShapeError('segment', `the ${organ.name}'s label value ${organ.value} is outside 1..${MAX_LABEL} (0 is the background)`);
    }
  }
  const plans = req.organs.map((organ) => organPlan(req, organ));
  const range: [number, number] = [Math.min(...plans.map((p) => p.target[0])), Math.max(...plans.map((p) => p.target[1]))];
  const nU = range[1] - range[0] + 1;
  const encodings: SupportEncoding[][] = [];
  try {
    for (const [o, plan] of plans.entries()) {
      const list: SupportEncoding[] = [];
      encodings.push(list);
      for (const z of plan.chosen) {
        list.push(
          await synpo.prepareSupport(
            {
              image: support.slices.subarray(z * PIXELS, (z + 1) * PIXELS),
              mask: req.organs[o]!.masks.subarray(z * PIXELS, (z + 1) * PIXELS),
            },
            { ...(req.detail && { detail: true }) },
          ),
        );
      }
    }
    // The atlas of each organ: one map per slice of its target range (given, for a slice cut from
    // a volume, or made ahead by a thread: withAtlases makes it the one way).
    const atlases = req.atlas === false ? plans.map(() => null) : withAtlases(req, synpo.options.atlas.growth).map((organ) => organ.atlas!);
    const blank = new Set<number>();
    for (let z = range[0]; z <= range[1]; z++) if (isBlank(query.slices.subarray(z * PIXELS, (z + 1) * PIXELS))) blank.add(z);
    // One job per (organ, support slice): the query slices of that third of the organ's range.
    const jobs: { organ: number; part: number; slices: number[] }[] = [];
    plans.forEach((plan, organ) => {
      for (let part = 0; part < plan.chosen.length; part++) {
        const slices: number[] = [];
        for (let z = plan.target[0]; z <= plan.target[1]; z++) if (!blank.has(z) && partOf(plan, z) === part) slices.push(z - range[0]);
        if (slices.length) jobs.push({ organ, part, slices });
      }
    });
    const queries = query.slices.subarray(range[0] * PIXELS, (range[1] + 1) * PIXELS);
    // Keys let every organ and the propagation pass reuse a slice's encodings; unique to this call.
    const call = ++calls;
    const names = Array.from({ length: nU }, (_, i) => ({ seed: (req.sliceOffset ?? 0) + range[0] + i, key: `organs-${call}:${range[0] + i}` }));
    if (req.encodings && synpo.kernels.path === 'cpu') {
      for (const [z, encoding] of req.encodings) if (z >= range[0] && z <= range[1]) synpo.encodings.set(names[z - range[0]]!.key, encoding);
    }
    const masks = req.organs.map(() => new Uint8Array(query.nz * PIXELS));
    const multi = req.organs.length > 1;
    // Each organ's fused map per slice, for overlaps (64×64 floats a slice): with several organs, or when asked for.
    const confidence = req.organs.map(() => new Map<number, Float32Array>());
    const keep = multi || Boolean(req.keepConfidence);
    const organSlices = jobs.reduce((n, j) => n + j.slices.length, 0);
    const before = {
      encoded: synpo.encoded.slices,
      propagated: { ...synpo.propagation },
      perSlice: synpo.perSlice.slices,
      speculation: { ...synpo.speculation },
      transfers: synpo.kernels.transfers(),
    };
    const propagate = synpo.options.propagation.enabled;
    const zOf = (job: (typeof jobs)[number], k: number) => range[0] + job.slices[k]!;
    try {
      const results =
        jobs.length === 0
          ? []
          : await synpo.segmentJobs(
              queries,
              nU,
              jobs.map((j) => {
                const atlas = atlases[j.organ];
                const first = plans[j.organ]!.target[0];
                return {
                  support: encodings[j.organ]![j.part]!,
                  slices: j.slices,
                  organ: j.organ,
                  ...(atlas && { atlas: j.slices.map((i) => atlas.maps[range[0] + i - first]!) }),
                  ...(atlas?.placement && { placement: atlas.placement }),
                };
              }),
              names,
              {
                // Several organs need their fused maps where their masks meet (combineOrgans): read only
                // there, unless every map is asked for (keepConfidence: parts combined elsewhere).
                ...(req.detail ? { detail: true } : req.keepConfidence ? { detail: ['synmap'] } : multi ? { overlapConfidence: true } : {}),
                propagate,
                // The GPU path uploads the file's voxels of the range and prepares them on the device.
                ...(query.voxels && { voxels: voxelSlices(query.voxels, range[0], range[1]) }),
                ...(req.progress && {
                  progress: (done: number, _total: number, what: string) => req.progress!(Math.min(done, organSlices), organSlices, what),
                }),
                // The dumps: every slice's per-slice results as its batch finishes.
                ...(req.onSlice && {
                  onBatch: async (first: number, perJob: SliceResult[][]) => {
                    for (const [j, rows] of perJob.entries()) {
                      const job = jobs[j]!;
                      const inBatch = job.slices.filter((i) => i >= first && i < first + synpo.batchSize);
                      for (const [k, r] of rows.entries()) {
                        await req.onSlice!(
                          range[0] + inBatch[k]!,
                          req.organs[job.organ]!.name,
                          r,
                          encodings[job.organ]![job.part]!,
                          plans[job.organ]!.chosen[job.part]!,
                        );
                      }
                    }
                  },
                }),
              },
            );
      results.forEach((rows, j) => {
        const job = jobs[j]!;
        rows.forEach((r, k) => {
          const z = zOf(job, k);
          masks[job.organ]!.set(r.final, z * PIXELS);
          if (keep && r.synmap) confidence[job.organ]!.set(z, r.synmap);
        });
      });
    } finally {
      synpo.forgetEncodings(names.map((n) => n.key));
    }
    const after = synpo.kernels.transfers();
    const { labels, overlapPixels } = combineOrgans(
      req.organs.map((o, i) => ({ value: o.value, masks: masks[i]!, confidence: confidence[i]! })),
      query.nz,
    );
    return {
      labels,
      organs: req.organs.map((organ, o) => ({
        name: organ.name,
        value: organ.value,
        masks: masks[o]!,
        range: plans[o]!.target,
        supportSlices: plans[o]!.chosen,
        ...(req.keepConfidence && { confidence: confidence[o]! }),
        ...(atlases[o] && { atlas: atlases[o].transform }),
      })),
      range,
      encodedSlices: synpo.encoded.slices - before.encoded,
      organSlices,
      overlapPixels,
      blankSlices: [...blank],
      perSliceSlices: synpo.perSlice.slices - before.perSlice,
      propagatedSlices: synpo.propagation.slices - before.propagated.slices,
      propagationSteps: synpo.propagation.steps - before.propagated.steps,
      transfers:
        after && before.transfers
          ? {
              uploadBytes: after.uploadBytes - before.transfers.uploadBytes,
              readbackBytes: after.readbackBytes - before.transfers.readbackBytes,
              submits: after.submits - before.transfers.submits,
              maps: after.maps - before.transfers.maps,
            }
          : null,
      speculation: { chains: synpo.speculation.chains - before.speculation.chains, rerun: synpo.speculation.rerun - before.speculation.rerun },
    };
  } finally {
    for (const list of encodings) for (const e of list) await synpo.releaseSupport(e);
  }
}

/**
 * One label map from per-organ masks ([nz][ROI·ROI] each): a pixel two organs claim goes to the
 * higher fused confidence there (bilinear from each organ's 64×64 map; an organ without a map for
 * that slice loses). In order: an exact tie goes to the earlier organ.
 */
export function combineOrgans(
  organs: readonly Pick<OrganResult, 'value' | 'masks' | 'confidence'>[],
  nz: number,
): { labels: Uint16Array; overlapPixels: number } {
  const labels = new Uint16Array(nz * PIXELS);
  let overlapPixels = 0;
  for (let z = 0; z < nz; z++) {
    const off = z * PIXELS;
    const present = organs.filter((o) => anySet(o.masks, off, off + PIXELS));
    if (present.length === 0) continue;
    if (present.length === 1) {
      const { masks, value } = present[0]!;
      for (let t = off; t < off + PIXELS; t++) if (masks[t]) labels[t] = value;
      continue;
    }
    const maps = present.map((o) => o.confidence?.get(z));
    for (let i = 0; i < PIXELS; i++) {
      const t = off + i;
      let winner = -1;
      let best = 0;
      let claims = 0;
      for (let k = 0; k < present.length; k++) {
        if (!present[k]!.masks[t]) continue;
        claims++;
        // The confidences are made only where two organs meet.
        if (winner < 0) {
          winner = k;
          continue;
        }
        if (claims === 2) best = confidenceAt(maps[winner], i);
        const c = confidenceAt(maps[k], i);
        if (c > best) [winner, best] = [k, c];
      }
      if (winner >= 0) labels[t] = present[winner]!.value;
      if (claims > 1) overlapPixels++;
    }
  }
  return { labels, overlapPixels };
}

/** One organ of a query volume (the multi-organ run with one organ). */
export async function segmentVolume(req: SegmentVolumeRequest): Promise<SegmentVolumeResult> {
  const r = await segmentOrgans({
    synpo: req.synpo,
    support: req.support,
    query: req.query,
    organs: [{ name: 'organ', value: 1, masks: req.supportMasks, ...(req.range && { range: req.range }) }],
    ...(req.supportSlice !== undefined && { supportSlice: req.supportSlice }),
    ...(req.atlas !== undefined && { atlas: req.atlas }),
    ...(req.detail && { detail: true }),
    ...(req.onSlice && { onSlice: (z, _organ, result, support, supportZ) => req.onSlice!(z, result, support, supportZ) }),
    ...(req.progress && { progress: req.progress }),
  });
  const organ = r.organs[0]!;
  return { masks: organ.masks, range: organ.range, supportSlices: organ.supportSlices, propagatedSlices: r.propagatedSlices, encodedSlices: r.encodedSlices };
}

/**
 * The organs of a request dealt over `count` parts (threads, web workers) so that the parts'
 * work (organLoad) is about even: the heaviest organ first, each to the lightest part so far.
 * Returns each part's organ indices, in request order; parts that would get nothing are dropped.
 * `loads`: the organs' organLoad, when the caller has them already.
 */
export function splitOrgans(
  req: Omit<SegmentOrgansRequest, 'synpo'>,
  count: number,
  loads: readonly number[] = req.organs.map((organ) => organLoad(req, organ)),
): number[][] {
  const parts: { organs: number[]; load: number }[] = Array.from({ length: Math.max(1, Math.min(count, req.organs.length)) }, () => ({ organs: [], load: 0 }));
  for (const o of loads.map((_, i) => i).sort((a, b) => loads[b]! - loads[a]! || a - b)) {
    const lightest = parts.reduce((best, p) => (p.load < best.load ? p : best));
    lightest.organs.push(o);
    lightest.load += loads[o]!;
  }
  return parts.map((p) => p.organs.sort((a, b) => a - b));
}

/**
 * An organ's work on the CPU path, in slices of a small organ: its query slices, each heavier as
 * the organ is larger (the walk is bounded to the organ's box, its atlas covers it). Measured on
 * CHAOS: a liver slice (4 700 support pixels) costs 1.6× a kidney slice (1 000).
 */
export function organLoad(req: Omit<SegmentOrgansRequest, 'synpo'>, organ: OrganRequest): number {
  const [a, b] = organPlan(req, organ).target;
  let pixels = 0;
  let slices = 0;
  for (let z = 0; z < req.support.nz; z++) {
    let n = 0;
    for (let i = z * PIXELS; i < (z + 1) * PIXELS; i++) n += organ.masks[i]! ? 1 : 0;
    pixels += n;
    slices += n > 0 ? 1 : 0;
  }
  return (b - a + 1) * (1 + pixels / Math.max(1, slices) / AREA_PER_LOAD);
}

/** Support pixels an organ's slice has for its cost to double (organLoad). */
const AREA_PER_LOAD = 7500;

/** An encoded slice's work in organLoad's units (CPU path, weight-free encoders). */
const ENCODE_LOAD = 0.4;

/**
 * Which query slices each part encodes: every slice some part needs, once, each to the part
 * whose work (its organs' `loads` and the slices it encodes so far) is lightest, so a part with
 * lighter organs encodes for the others.
 */
export function dealSlices(needs: readonly (readonly number[])[], loads: readonly number[]): number[][] {
  const shares: number[][] = needs.map(() => []);
  const work = [...loads];
  for (const z of [...new Set(needs.flat())].sort((a, b) => a - b)) {
    const p = work.reduce((best, w, q) => (w < work[best]! ? q : best), 0);
    shares[p]!.push(z);
    work[p]! += ENCODE_LOAD;
  }
  return shares;
}

/**
 * For a request's organs dealt over parts (splitOrgans, with the same `loads`): the query slices
 * each part needs, and those each encodes for all (dealSlices, by the parts' organLoad).
 */
export function encodingShares(
  req: Omit<SegmentOrgansRequest, 'synpo'>,
  parts: readonly (readonly number[])[],
  loads: readonly number[] = req.organs.map((organ) => organLoad(req, organ)),
): { needs: number[][]; shares: number[][] } {
  const needs = parts.map((organs) => querySlicesOf(req, organs));
  return {
    needs,
    shares: dealSlices(
      needs,
      parts.map((organs) => organs.reduce((n, o) => n + loads[o]!, 0)),
    ),
  };
}

/** Of the encodings of all parts, those of the slices one part needs and did not encode itself. */
export function encodingsFromOthers(need: readonly number[], own: readonly number[], all: ReadonlyMap<number, HostEncoding>): Map<number, HostEncoding> {
  const mine = new Set(own);
  return new Map(need.filter((z) => !mine.has(z)).map((z) => [z, all.get(z)!]));
}

/**
 * Each organ's atlas (carriedAtlas over its query range) made ahead, in the request's organs, as
 * segmentOrgans would make it: a thread makes its organs' while it waits for the others'
 * encodings. Unchanged without the atlas prior or where an organ has one.
 */
export function withAtlases(req: Omit<SegmentOrgansRequest, 'synpo'>, growth: number): OrganRequest[] {
  return req.organs.map((organ) =>
    req.atlas === false || organ.atlas ? organ : { ...organ, atlas: carriedAtlas(req.support, organ.masks, req.query, organPlan(req, organ).target, growth) },
  );
}

/**
 * The query slices segmentOrgans encodes for these organs of a request (all of them by default):
 * every slice of their ranges but the blank ones, in order.
 */
export function querySlicesOf(req: Omit<SegmentOrgansRequest, 'synpo'>, organs: readonly number[] = req.organs.map((_, o) => o)): number[] {
  const wanted = new Set<number>();
  for (const o of organs) {
    const [a, b] = organPlan(req, req.organs[o]!).target;
    for (let z = a; z <= b; z++) wanted.add(z);
  }
  return [...wanted].sort((a, b) => a - b).filter((z) => !isBlank(req.query.slices.subarray(z * PIXELS, (z + 1) * PIXELS)));
}

/**
 * The results of segmentOrgans on parts of one request's organs (each run with `keepConfidence`)
 * as the one call gives them: organs in request order, overlaps resolved by combineOrgans. The
 * counters add up (segmentOrgansOnThreads' parts encode each slice once between them); the blank slices
 * are those of the whole range, as the one call finds them.
 */
export function mergeOrganParts(parts: readonly SegmentOrgansResult[], order: readonly string[], query: SliceStack): SegmentOrgansResult {
  const organs = parts.flatMap((p) => p.organs).sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const { labels, overlapPixels } = combineOrgans(organs, query.nz);
  const sum = (f: (p: SegmentOrgansResult) => number) => parts.reduce((n, p) => n + f(p), 0);
  const range: [number, number] = [Math.min(...parts.map((p) => p.range[0])), Math.max(...parts.map((p) => p.range[1]))];
  const blankSlices: number[] = [];
  for (let z = range[0]; z <= range[1]; z++) if (isBlank(query.slices.subarray(z * PIXELS, (z + 1) * PIXELS))) blankSlices.push(z);
  return {
    labels,
    organs,
    overlapPixels,
    range,
    blankSlices,
    encodedSlices: sum((p) => p.encodedSlices),
    organSlices: sum((p) => p.organSlices),
    perSliceSlices: sum((p) => p.perSliceSlices),
    propagatedSlices: sum((p) => p.propagatedSlices),
    propagationSteps: Math.max(...parts.map((p) => p.propagationSteps)),
    transfers: null,
    speculation: { chains: sum((p) => p.speculation.chains), rerun: sum((p) => p.speculation.rerun) },
  };
}

/**
 * The bounds a volume's host ↔ GPU traffic is held to (the GPU path keeps the hot path on the
 * device): uploads ≤ 1.1 × the bytes of the query slices segmented (the union of the organs'
 * ranges) as the volume's voxels go up (`query`'s voxels packed as the file's own integers; the
 * float32 ROI slices where it has none), plus each row's own inputs, in either pass: its atlas
 * map (16-bit cell counts), its k-means and sampling draws (u32 each) and 64 bytes of scalars (μ,
 * the band, the organ's extent, the area target); readback ≤ the final masks as bits, plus every row's prompt points (a
 * cluster's centre, 2 × f32, and size, u32), mask area (a 4×4 grid of f32), with a propagation
 * agreement below 1 its overlap with a neighbour's mask (another 4×4 grid) too, and the
 * convergence flags of its two random-walker solves (8 × u32 each: what a speculative chain
 * checks), and where organs meet, the f32 cells of their fused maps that combineOrgans reads
 * (sharedCells); submissions ≤ 2 × the longest organ range + 10. `options` are those `r` was
 * segmented with, `query` the volume it was segmented from.
 */
export function transferBounds(
  options: { points: Pick<PointSelectionOptions, 'positives' | 'negatives' | 'negativeCandidates'>; propagation: Pick<PropagationOptions, 'agreement'> },
  r: SegmentOrgansResult,
  query: SliceStack,
): { uploadBytes: number; readbackBytes: number; submits: number } {
  const voxels = query.voxels && voxelSlices(query.voxels, r.range[0], r.range[1]);
  const volumeBytes = voxels ? 4 * Math.ceil(voxels.data.length / VOXEL_FORMATS[voxelFormat(voxels.data)].perWord) : (r.range[1] - r.range[0] + 1) * PIXELS * 4;
  const grids = options.propagation.agreement < 1 ? 2 : 1;
  const perRow = (options.points.positives + options.points.negatives) * 12 + grids * 16 * 4 + 2 * 8 * 4;
  const longest = Math.max(...r.organs.map((o) => o.range[1] - o.range[0] + 1));
  const rowInputs = (r.organs.some((o) => o.atlas) ? 2 * ATLAS_CELLS : 0) + 4 * (options.points.positives + options.points.negativeCandidates) + 64;
  return {
    uploadBytes: 1.1 * volumeBytes + (r.perSliceSlices + r.propagatedSlices) * rowInputs,
    readbackBytes:
      (r.organSlices * PIXELS) / 8 +
      (r.organSlices + r.propagatedSlices) * perRow +
      4 *
        sharedCellCount(
          r.organs.map((o) => o.masks),
          r.labels.length / PIXELS,
        ),
    submits: 2 * longest + 10,
  };
}
