/**
 * One case, as every front end runs it: a support (an image and its labels) and a query, all the
 * named organs in one pass (`segmentOrgans`), the label map brought back to the query's own grid.
 * `synpo segment`, `synpo batch` and `synpo queue` run their cases through here and keep only
 * their own I/O (reading files, writing masks, records and reports); the demo site's worker runs
 * `segmentOrgans` on volumes its page has already prepared (it shows them before any run).
 */
import { ShapeError, type Kernels } from '@synpo/gpu';
import type { Volume } from '@synpo/io';
import { PIXELS, type Backend } from './backend.ts';
import type { SynpoOptionsInput } from './options.ts';
import type { PropagationSteps } from './propagate.ts';
import { labelsToRoi, prepareVolume, preparedSlice, roiToVolume, type IntensityMode, type PreparedVolume } from './preprocess.ts';
import { LAYOUTS, organRange, supportSlices } from './protocol.ts';
import {
  carriedAtlas,
  carryRange,
  isBlank,
  partOf,
  segmentOrgans,
  supportSliceFor,
  type OrganRequest,
  type SegmentOrgansRequest,
  type SegmentOrgansResult,
} from './segment.ts';
import { atlasSum, Synpo } from './synpo.ts';

/** An organ of a case: its name, its value in the support labels, the value written for it. */
export interface CaseOrgan {
  name: string;
  value: number;
  written: number;
}

export interface SegmentCaseRequest {
  backend: Backend;
  kernels: Kernels;
  supportImage: Volume;
  /** The support's labels, on the support image's grid. */
  supportLabel: Volume;
  query: Volume;
  /**
   * When the query is one slice cut from a volume: that volume and the slice's canonical index.
   * The slice is normalised with its volume, as the whole-volume run normalises it.
   */
  sliceOf?: { volume: Volume; canonicalZ: number };
  organs: readonly CaseOrgan[];
  /** The paper's negative band for the modality. */
  band: keyof typeof LAYOUTS;
  intensity?: IntensityMode;
  /** SynPo's options but the band (seed, cache bound, propagation, …). */
  options?: Omit<SynpoOptionsInput, 'points'>;
  /** Canonical query slices to segment, inclusive (default: each organ's range carried over). */
  range?: [number, number];
  supportSlice?: number;
  /** The atlas prior (SegmentOrgansRequest.atlas). */
  atlas?: boolean;
  /** Propagation steps shared with the other cases segmented at the same time on the same kernels (`synpo batch --jobs N`). */
  steps?: PropagationSteps;
  detail?: SegmentOrgansRequest['detail'];
  onSlice?: SegmentOrgansRequest['onSlice'];
  progress?: SegmentOrgansRequest['progress'];
  /** Called with the prepared volumes before any slice is segmented (warnings, a dump's folder). */
  prepared?(support: PreparedVolume, query: PreparedVolume): Promise<void> | void;
  /** Runs the organs in place of `segmentOrgans` (the CLI's worker threads on the CPU path). */
  segment?(req: SegmentOrgansRequest): Promise<SegmentOrgansResult>;
}

export interface SegmentCaseResult extends SegmentOrgansResult {
  /** The label map on the query file's own grid and voxel order, ready to be written. */
  fileLabels: Uint16Array;
  support: PreparedVolume;
  query: PreparedVolume;
  synpo: Synpo;
}

/** What makes a support and a query unusable together, said with their files' names. */
export function checkCase(supportImage: Volume, supportLabel: Volume, query: Volume, opts: { querySliceOfVolume?: boolean } = {}): void {
  if (supportImage.dims.join() !== supportLabel.dims.join()) {
    throw new ShapeError(
      'case',
      `support label ${supportLabel.source} is ${supportLabel.dims.join('×')}, the support image ${supportImage.source} is ${supportImage.dims.join('×')}; they must share one grid`,
    );
  }
  const supportIs2D = supportImage.dims[2] === 1;
  const queryIs2D = query.dims[2] === 1;
  if (supportIs2D !== queryIs2D && !opts.querySliceOfVolume) {
    throw new ShapeError(
      'case',
      `the support is ${supportIs2D ? '2-D' : '3-D'} (${supportImage.dims.join('×')}) but the query is ${queryIs2D ? '2-D' : '3-D'} (${query.dims.join('×')}); give both as slices or both as volumes (or pick a query slice with --slice)`,
    );
  }
}

export async function segmentCase(req: SegmentCaseRequest): Promise<SegmentCaseResult> {
  checkCase(req.supportImage, req.supportLabel, req.query, { querySliceOfVolume: req.sliceOf !== undefined });
  const intensity = req.intensity ?? 'auto';
  const support = prepareVolume(req.supportImage, intensity);
  const whole = req.sliceOf ? prepareVolume(req.sliceOf.volume, intensity) : null;
  const query = req.sliceOf && whole ? preparedSlice(whole, req.sliceOf.canonicalZ, req.query) : prepareVolume(req.query, intensity);
  const synpo = new Synpo(req.backend, req.kernels, { ...req.options, points: { ...LAYOUTS[req.band].band } });
  if (req.steps) synpo.steps = req.steps;
  const organs: OrganRequest[] = req.organs.map((o) => ({
    name: o.name,
    value: o.written,
    masks: labelsToRoi(req.supportLabel, support, o.value),
    ...(req.range && { range: req.range }),
  }));
  // One slice cut from a volume: its atlas map is the whole volume's at that slice (the nearest
  // slice of the organ's carried range outside it), as the whole-volume run computes it.
  if (req.sliceOf && whole && req.atlas !== false && support.nz > 1) {
    for (const organ of organs) {
      const range = organRange(organ.masks, support.nz);
      if (!range) continue; // segmentOrgans says which organ is missing
      const target = carryRange(range, support.nz, whole.nz);
      const atlas = carriedAtlas(support, organ.masks, whole, target, synpo.options.atlas.growth);
      const z = Math.min(target[1], Math.max(target[0], req.sliceOf.canonicalZ));
      // The position cue goes where the whole-volume run's job puts it: the maps of z's job (its
      // third, or all the range with one support slice; partOf), blank slices left out as there.
      const plan = { chosen: req.supportSlice !== undefined ? [req.supportSlice] : supportSlices(range, { masks: organ.masks, nz: support.nz }), target };
      const sameJob = (k: number) => partOf(plan, k) === partOf(plan, z) && !isBlank(whole.slices.subarray(k * PIXELS, (k + 1) * PIXELS));
      const maps = atlas.maps.filter((_, i) => sameJob(target[0] + i));
      organ.atlas = { maps: [atlas.maps[z - target[0]]!], transform: atlas.transform, placement: atlasSum(maps) };
    }
  }
  await req.prepared?.(support, query);
  // One slice cut from a volume: the support slice of the third of the organ it falls in.
  const supportSlice =
    req.supportSlice ??
    (req.sliceOf && support.nz > 1 && organs.length === 1
      ? supportSliceFor(organs[0]!.masks, support.nz, req.sliceOf.canonicalZ, req.sliceOf.volume.dims[2])
      : undefined);
  const request: SegmentOrgansRequest = {
    synpo,
    support,
    query,
    organs,
    ...(supportSlice !== undefined && { supportSlice }),
    ...(req.sliceOf && { sliceOffset: req.sliceOf.canonicalZ }),
    ...(req.atlas !== undefined && { atlas: req.atlas }),
    ...(req.detail !== undefined && { detail: req.detail }),
    ...(req.onSlice && { onSlice: req.onSlice }),
    ...(req.progress && { progress: req.progress }),
  };
  const result = await (req.segment ?? segmentOrgans)(request);
  return { ...result, fileLabels: roiToVolume(result.labels, query, 'as-is'), support, query, synpo };
}
