/**
 * `synpo eval`: the paper's Table 1 protocol on a dataset folder (chaos-t2 or sabs-ct layout):
 * for each fold and organ, three support slices from the fold's support scan, every query slice
 * inside the query's organ range matched to the support of its third, 3-D Dice per query scan,
 * the per-fold mean, then mean ± std over folds; plus the 2-D Dice averaged over organ slices.
 */
import type { Kernels } from '@synpo/gpu';
import type { Volume } from '@synpo/io';
import { PIXELS, type Backend } from './backend.ts';
import type { SynpoOptionsInput } from './options.ts';
import { labelsToRoi, prepareVolume, type IntensityMode, type PreparedVolume } from './preprocess.ts';
import { dice, meanStd, organRange, overlap, queryPart, supportSlices, type DatasetLayout, type Organ, type Overlap } from './protocol.ts';
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
}

export async function evaluate(req: EvalRequest): Promise<EvalReport> {
  const t0 = performance.now();
  const synpo = new Synpo(req.backend, req.kernels, {
    ...req.options,
    points: { ...req.layout.band, ...req.options?.points },
  });
  const scans: ScanResult[] = [];
  const total = req.organs.length * req.folds.reduce((n, k) => n + req.layout.fold(k).queries.length, 0);
  let done = 0;
  for (const fold of req.folds) {
    const { queries, support } = req.layout.fold(fold);
    const supportCase = await loadCase(req, support);
    const queryCases: { id: number; prepared: PreparedVolume; labels: Volume }[] = [];
    for (const id of queries) queryCases.push({ id, ...(await loadCase(req, id)) });
    for (const organ of req.organs) {
      const value = req.layout.labels[organ];
      const supportMasks = labelsToRoi(supportCase.labels, supportCase.prepared.region, value);
      const range = organRange(supportMasks, supportCase.prepared.nz);
      if (!range) throw new Error(`${req.layout.name} case ${support} has no ${organ} (label ${value}); it cannot be the support of fold ${fold}`);
      const supports: SupportEncoding[] = [];
      for (const z of supportSlices(range)) {
        supports.push(await synpo.prepareSupport({ image: sliceOf3(supportCase.prepared, z), mask: supportMasks.subarray(z * PIXELS, (z + 1) * PIXELS) }));
      }
      for (const q of queryCases) {
        const truth = labelsToRoi(q.labels, q.prepared.region, value);
        const qRange = organRange(truth, q.prepared.nz);
        done++;
        if (!qRange) {
          req.progress?.(done, total, `fold ${fold} ${organ} scan ${q.id}: no ${organ}, skipped`);
          continue;
        }
        const counts: Overlap = { tp: 0, fp: 0, fn: 0 };
        const dice2d: number[] = [];
        for (let part = 0; part < 3; part++) {
          const zs: number[] = [];
          for (let z = qRange[0]; z <= qRange[1]; z++) if (queryPart(z, qRange) === part) zs.push(z);
          if (zs.length === 0) continue;
          const batch = new Float32Array(zs.length * PIXELS);
          zs.forEach((z, i) => batch.set(sliceOf3(q.prepared, z), i * PIXELS));
          const results = await synpo.segment(supports[part]!, batch, zs.length, zs.map((z) => ({ seed: z, key: `${q.id}:${z}` })));
          req.onSlices?.({ fold, organ, scan: q.id }, zs, results);
          results.forEach((r, i) => {
            const t = truth.subarray(zs[i]! * PIXELS, (zs[i]! + 1) * PIXELS);
            const c = overlap(r.final, t);
            counts.tp += c.tp;
            counts.fp += c.fp;
            counts.fn += c.fn;
            if (c.tp + c.fn > 0) dice2d.push(dice(c));
          });
        }
        const result: ScanResult = {
          fold, organ, scan: q.id, support, dice: dice(counts), dice2d: meanStd(dice2d).mean,
          slices: qRange[1] - qRange[0] + 1, counts,
        };
        scans.push(result);
        req.progress?.(done, total, `fold ${fold} ${organ} scan ${q.id}: Dice ${(100 * result.dice).toFixed(1)}`);
      }
      for (const s of supports) await synpo.releaseSupport(s);
    }
  }
  const organs = req.organs.map((organ) => {
    const perFold = req.folds.map((fold) => {
      const mine = scans.filter((s) => s.fold === fold && s.organ === organ);
      return { fold, dice: meanStd(mine.map((s) => s.dice)).mean, dice2d: meanStd(mine.map((s) => s.dice2d)).mean };
    }).filter((f) => Number.isFinite(f.dice));
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
  };
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
  return { prepared: await prepareVolume(image, req.kernels, req.intensity ?? 'auto'), labels };
}

