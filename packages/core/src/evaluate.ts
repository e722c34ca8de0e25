/**
 * `synpo eval`: the paper's Table 1 protocol on a dataset folder (chaos-t2 or sabs-ct layout):
 * for each fold and organ, three support slices from the fold's support scan, every query slice
 * inside the query's organ range matched to the support of its third, 3-D Dice per query scan,
 * the per-fold mean, then mean ± std over folds; plus the 2-D Dice averaged over organ slices.
 * All organs of a query scan run in one pass: each of its slices is encoded once.
 */
import type { Kernels } from '@synpo/gpu';
import type { Volume } from '@synpo/io';
import { PIXELS, type Backend } from './backend.ts';
import type { SynpoOptionsInput } from './options.ts';
import { labelsToRoi, prepareVolume, voxelSlices, type IntensityMode, type PreparedVolume } from './preprocess.ts';
import { dice, meanStd, organRange, overlap, queryPart, supportSlices, type DatasetLayout, type Organ, type Overlap } from './protocol.ts';
import { carriedAtlas } from './segment.ts';
import { Synpo, type SliceResult, type SupportEncoding } from './synpo.ts';

export interface EvalRequest {
  layout: DatasetLayout;
  folds: number[];
  organs: Organ[];
  backend: Backend;
  kernels: Kernels;
  options?: SynpoOptionsInput;
  intensity?: IntensityMode;
  /** Loads a case file of the layout (image or label) by name. */
  load(file: string): Promise<Volume>;
  /**
   * The atlas prior (atlas.ts): each organ of the support scan carried onto the query along the
   * protocol's slice correspondence. On unless false; off is the paper's protocol.
   */
  atlas?: boolean;
  /** Called after each query scan: done of total, and a label. */
  progress?(done: number, total: number, label: string): void;
  /** Receives every segmented query slice (for overlays). */
  onSlices?(where: { fold: number; organ: Organ; scan: number }, zs: number[], results: SliceResult[]): void;
}

export interface ScanResult {
  fold: number;
  organ: Organ;
  scan: number;
  support: number;
  /** 3-D Dice over the evaluated slices. */
  dice: number;
  /** Mean 2-D Dice over the slices that contain the organ. */
  dice2d: number;
  slices: number;
  counts: Overlap;
}

export interface OrganSummary {
  organ: Organ;
  /** Mean 3-D Dice per fold (over its query scans). */
  perFold: { fold: number; dice: number; dice2d: number }[];
  mean: number;
  std: number;
  mean2d: number;
}

export interface EvalReport {
  dataset: string;
  backend: string;
  folds: number[];
  organs: OrganSummary[];
  /** Mean over organs of the organ means (the paper's "Mean" column). */
  mean: number;
  mean2d: number;
  scans: ScanResult[];
  seconds: number;
  /**
   * What the one-pass organs saved: query slices encoded, against the organ-slices segmented on
   * them (what one run per organ would have encoded), and the encoder time saved, estimated from
   * the measured time per encoded slice (CPU path; on the GPU the encoders run asynchronously).
   */
  encoding: { encodedSlices: number; organSlices: number; encoderSeconds: number | null; encoderSecondsSaved: number | null };
}

export async function evaluate(req: EvalRequest): Promise<EvalReport> {
  const t0 = performance.now();
  const synpo = new Synpo(req.backend, req.kernels, {
    ...req.options,
    points: { ...req.layout.band, ...req.options?.points },
  });
  const scans: ScanResult[] = [];
  const total = req.folds.reduce((n, k) => n + req.layout.fold(k).queries.length, 0);
  let done = 0;
  let organSlices = 0;
  const encodedBefore = { ...synpo.encoded };
  for (const fold of req.folds) {
    const { queries, support } = req.layout.fold(fold);
    const supportCase = await loadCase(req, support);
    // Every organ's three support slices of this fold.
    const supports = new Map<Organ, SupportEncoding[]>();
    const supportMasksOf = new Map<Organ, Uint8Array>();
    try {
      for (const organ of req.organs) {
        const value = req.layout.labels[organ];
        const supportMasks = labelsToRoi(supportCase.labels, supportCase.prepared, value);
        const range = organRange(supportMasks, supportCase.prepared.nz);
        if (!range) throw new Error(`${req.layout.name} case ${support} has no ${organ} (label ${value}); it cannot be the support of fold ${fold}`);
        const list: SupportEncoding[] = [];
        supports.set(organ, list);
        supportMasksOf.set(organ, supportMasks);
        for (const z of supportSlices(range, { masks: supportMasks, nz: supportCase.prepared.nz })) {
          list.push(await synpo.prepareSupport({ image: sliceOf3(supportCase.prepared, z), mask: supportMasks.subarray(z * PIXELS, (z + 1) * PIXELS) }));
        }
      }
      for (const id of queries) {
        const q = { id, ...(await loadCase(req, id)) };
        // Per organ: its truth, its range in the query, one job per third; all on one encoding.
        const plans = req.organs.flatMap((organ) => {
          const truth = labelsToRoi(q.labels, q.prepared, req.layout.labels[organ]);
          const qRange = organRange(truth, q.prepared.nz);
          if (!qRange) return [];
          const atlas =
            req.atlas !== false ? carriedAtlas(supportCase.prepared, supportMasksOf.get(organ)!, q.prepared, qRange, synpo.options.atlas.growth).maps : null;
          return [{ organ, truth, qRange, atlas }];
        });
        done++;
        const absent = req.organs.filter((o) => !plans.some((p) => p.organ === o));
        if (plans.length === 0) {
          req.progress?.(done, total, `fold ${fold} scan ${id}: none of the organs, skipped`);
          continue;
        }
        const z0 = Math.min(...plans.map((p) => p.qRange[0]));
        const z1 = Math.max(...plans.map((p) => p.qRange[1]));
        const jobs = plans
          .flatMap((p) =>
            [0, 1, 2].map((part) => {
              const zs: number[] = [];
              for (let z = p.qRange[0]; z <= p.qRange[1]; z++) if (queryPart(z, p.qRange) === part) zs.push(z);
              return { plan: p, part, zs };
            }),
          )
          .filter((j) => j.zs.length > 0);
        organSlices += jobs.reduce((n, j) => n + j.zs.length, 0);
        const names = Array.from({ length: z1 - z0 + 1 }, (_, i) => ({ seed: z0 + i, key: `${id}:${z0 + i}` }));
        let results: SliceResult[][];
        try {
          results = await synpo.segmentJobs(
            q.prepared.slices.subarray(z0 * PIXELS, (z1 + 1) * PIXELS),
            z1 - z0 + 1,
            jobs.map((j) => ({
              support: supports.get(j.plan.organ)![j.part]!,
              slices: j.zs.map((z) => z - z0),
              organ: plans.indexOf(j.plan),
              ...(j.plan.atlas && { atlas: j.zs.map((z) => j.plan.atlas![z - j.plan.qRange[0]]!) }),
            })),
            names,
            { propagate: true, voxels: voxelSlices(q.prepared.voxels, z0, z1) },
          );
        } finally {
          synpo.forgetEncodings(names.map((n) => n.key));
        }
        const line: string[] = [];
        for (const p of plans) {
          const counts: Overlap = { tp: 0, fp: 0, fn: 0 };
          const dice2d: number[] = [];
          jobs.forEach((j, k) => {
            if (j.plan !== p) return;
            req.onSlices?.({ fold, organ: p.organ, scan: id }, j.zs, results[k]!);
            results[k]!.forEach((r, i) => {
              const c = overlap(r.final, p.truth.subarray(j.zs[i]! * PIXELS, (j.zs[i]! + 1) * PIXELS));
              counts.tp += c.tp;
              counts.fp += c.fp;
              counts.fn += c.fn;
              if (c.tp + c.fn > 0) dice2d.push(dice(c));
            });
          });
          const result: ScanResult = {
            fold,
            organ: p.organ,
            scan: id,
            support,
            dice: dice(counts),
            dice2d: meanStd(dice2d).mean,
            slices: p.qRange[1] - p.qRange[0] + 1,
            counts,
          };
          scans.push(result);
          line.push(`${p.organ} ${(100 * result.dice).toFixed(1)}`);
        }
        req.progress?.(done, total, `fold ${fold} scan ${id}: Dice ${line.join(', ')}${absent.length ? ` (no ${absent.join(', ')})` : ''}`);
      }
    } finally {
      for (const list of supports.values()) for (const e of list) await synpo.releaseSupport(e);
    }
  }
  const organs = req.organs.map((organ) => {
    const perFold = req.folds
      .map((fold) => {
        const mine = scans.filter((s) => s.fold === fold && s.organ === organ);
        return { fold, dice: meanStd(mine.map((s) => s.dice)).mean, dice2d: meanStd(mine.map((s) => s.dice2d)).mean };
      })
      .filter((f) => Number.isFinite(f.dice));
    const { mean, std } = meanStd(perFold.map((f) => f.dice));
    return { organ, perFold, mean, std, mean2d: meanStd(perFold.map((f) => f.dice2d)).mean };
  });
  return {
    dataset: req.layout.name,
    backend: req.backend.name,
    folds: req.folds,
    organs,
    mean: meanStd(organs.map((o) => o.mean)).mean,
    mean2d: meanStd(organs.map((o) => o.mean2d)).mean,
    scans,
    seconds: (performance.now() - t0) / 1000,
    encoding: encodingSaved(synpo, encodedBefore, organSlices),
  };
}

function encodingSaved(synpo: Synpo, before: { slices: number; ms: number }, organSlices: number): EvalReport['encoding'] {
  const encodedSlices = synpo.encoded.slices - before.slices;
  if (synpo.kernels.path !== 'cpu' || encodedSlices === 0) return { encodedSlices, organSlices, encoderSeconds: null, encoderSecondsSaved: null };
  const seconds = (synpo.encoded.ms - before.ms) / 1000;
  return { encodedSlices, organSlices, encoderSeconds: seconds, encoderSecondsSaved: (seconds / encodedSlices) * (organSlices - encodedSlices) };
}

function sliceOf3(prepared: PreparedVolume, z: number): Float32Array {
  return prepared.slices.subarray(z * PIXELS, (z + 1) * PIXELS);
}

async function loadCase(req: EvalRequest, id: number): Promise<{ prepared: PreparedVolume; labels: Volume }> {
  const image = await req.load(req.layout.image(id));
  const labels = await req.load(req.layout.label(id));
  if (image.dims.join() !== labels.dims.join()) {
    throw new Error(`${image.source} is ${image.dims.join('×')} but ${labels.source} is ${labels.dims.join('×')}`);
  }
  return { prepared: prepareVolume(image, req.intensity ?? 'auto'), labels };
}
