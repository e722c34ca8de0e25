/**
 * The propagation pass along a query volume (PropagationOptions): the slices of each organ's range
 * are segmented one after another, outward in both directions from an anchor, the slice with
 * the largest mask of its own, each guided by the mask its already-propagated neighbour got (the
 * fused confidence lowered away from it, and the decoder prompted with it). The per-slice pass
 * before it segments only the slices the anchor is looked for among (every
 * PropagationOptions.anchorStride-th); the pass segments the rest once, guided. A slice whose
 * neighbour found nothing is segmented on its own (unguided, as the per-slice pass would), and
 * with an agreement below 1 (every slice then has its own mask) a slice whose own mask already
 * agrees with its neighbour's final mask keeps it without a step. No query labels are used. On by
 * default; `propagation.enabled: false` is the paper's protocol, each slice judged alone.
 *
 * It runs as a wavefront: every organ and both directions advance together, one step a chain
 * (Synpo.propagationStep), so a step's rows share their dispatches and, on the GPU, its one
 * submission. A neighbour's mask stays a tensor on the stream and guides the next step from
 * there; only each step's mask areas, overlaps and (for slices the per-slice pass did not segment)
 * points come back, and the final masks are read
 * once at the end. The results are those of the slice-by-slice order: each direction of each
 * organ is its own chain of slices, and a slice's result does not depend on the rows it shares a
 * batch with.
 */
import type { Tensor, T } from '@synpo/gpu';
import type { PromptPoint } from './backend.ts';
import type { PropagationRow, PropagationStepOut, PropagationStepRequest, QueryVolume, SegmentJob, SliceName, Synpo } from './synpo.ts';

/** A mask on the stream: row `row` of a tensor kept from an earlier chain. */
export interface MaskSource {
  tensor: T<'mask'>;
  row: number;
}

/** A slice's own mask (unguided: from the per-slice pass, or from the pass where it was not guided) and its area. */
export interface OwnMask {
  mask: MaskSource;
  area: number;
}

/**
 * A slice's final mask; where the pass segmented a slice the per-slice pass did not, also the
 * points it was prompted with, and its fused confidence on the stream (with `synmaps`).
 */
export interface PassResult {
  mask: MaskSource;
  points?: { positives: PromptPoint[]; negatives: PromptPoint[] };
  synmap?: { tensor: T<'f32'>; row: number };
}

/**
 * Which slices of each job the per-slice pass segments before propagation (true: that slice): with
 * an anchor stride of 1 (or an agreement below 1, which compares every slice's own mask) all of
 * them; else every stride-th slice of each organ's range (the union of its jobs), centred on it.
 */
export function anchorCandidates(jobs: readonly SegmentJob[], stride: number): boolean[][] {
  const chosen = jobs.map((job) => job.slices.map(() => stride <= 1));
  if (stride <= 1) return chosen;
  for (const items of organSlices(jobs).values()) {
    const zs = [...items.keys()].sort((a, b) => a - b);
    const offset = Math.floor(((zs.length - 1) % stride) / 2);
    for (let n = offset; n < zs.length; n += stride) {
      const { j, k } = items.get(zs[n]!)!;
      chosen[j]![k] = true;
    }
  }
  return chosen;
}

/** Each organ's slices (the union of its jobs': its thirds), slice index → (job, index in the job). */
function organSlices(jobs: readonly SegmentJob[]): Map<number, Map<number, { j: number; k: number }>> {
  const organs = new Map<number, Map<number, { j: number; k: number }>>();
  jobs.forEach((job, j) => {
    const organ = job.organ ?? j;
    let items = organs.get(organ);
    if (!items) organs.set(organ, (items = new Map()));
    job.slices.forEach((z, k) => items!.set(z, { j, k }));
  });
  return organs;
}

/** One direction of one organ: its slices outward from the anchor, and where it has got to. */
interface Chain {
  /** (job, index in the job) of each slice, in order. */
  slices: { j: number; k: number; z: number }[];
  /** The mask of the slice the chain starts from (the anchor). */
  anchor: MaskSource;
  /** The mask of the slice before the next one, and its area. */
  previous: MaskSource;
  previousArea: number;
  /** The pixels `previous` shares with the next slice's own mask (PropagationOptions.agreement). */
  shared: number;
}

/**
 * Propagates through the slices of every organ of `jobs` (jobs of one organ: its thirds), from
 * the own masks the per-slice pass made (`firstPass[j][k]` for slice k of job j; absent for a
 * slice it did not segment, see anchorCandidates). Returns every slice's final result (the
 * per-slice pass's mask where it was not segmented again); the tensors it keeps are added to
 * `kept` for the caller to release. With `synmaps`, the rows the pass segments keep their fused
 * confidence too.
 */
export async function propagateJobs(
  synpo: Synpo,
  volume: QueryVolume,
  jobs: readonly SegmentJob[],
  names: readonly SliceName[],
  firstPass: readonly (readonly (OwnMask | undefined)[])[],
  options: { progress?: (step: number, steps: number) => void; kept: Tensor[]; candidates?: readonly (readonly boolean[])[]; synmaps?: boolean },
): Promise<PassResult[][]> {
  const own = firstPass.map((rows) => [...rows]);
  const finals: (PassResult | undefined)[][] = own.map((rows) => rows.map((r) => r && { mask: r.mask }));
  const slice = (j: number, k: number) => jobs[j]!.slices[k]!;
  // One step of rows (guided where a row has a guide), its results recorded as final.
  const step = async (rows: PropagationRow[], at: { j: number; k: number }[]): Promise<PropagationStepOut> => {
    const out = await synpo.propagationStep(volume, rows, names, Boolean(options.synmaps));
    options.kept.push(...out.kept);
    synpo.propagation.steps++;
    synpo.propagation.slices += rows.length;
    at.forEach(({ j, k }, i) => {
      const points = out.points[i];
      finals[j]![k] = { mask: out.masks[i]!, ...(points && { points }), ...(out.synmaps && { synmap: out.synmaps[i]! }) };
      if (!rows[i]!.guide) own[j]![k] = { mask: out.masks[i]!, area: out.areas[i]! };
    });
    return out;
  };
  // Slice k of job j as a row of a step: guided where `more` brings a guide.
  const rowOf = (j: number, k: number, more: Partial<PropagationRow>): PropagationRow => {
    const atlas = jobs[j]!.atlas?.[k];
    return { z: slice(j, k), support: jobs[j]!.support, ...more, ...(atlas && { atlas }) };
  };
  // The anchor of each organ: the largest own mask of its candidates (first among equals, lowest
  // slice first); where they all found nothing, of all its slices with an own mask.
  const anchorOf = (items: Map<number, { j: number; k: number }>) => {
    const largest = (candidate: (j: number, k: number) => boolean) => {
      let anchor = -1;
      let best = -1;
      for (const [z, { j, k }] of [...items].sort(([a], [b]) => a - b)) {
        const area = own[j]![k]?.area;
        if (area !== undefined && area > best && candidate(j, k)) [anchor, best] = [z, area];
      }
      return { anchor, best };
    };
    const found = largest((j, k) => options.candidates?.[j]?.[k] ?? true);
    return found.best > 0 ? found : largest(() => true);
  };
  const organs = [...organSlices(jobs).values()];
  // Slices no chain would segment get their own masks first, in one step: all the slices of an
  // organ whose candidates found nothing (its anchor is then looked for among all of them), and
  // those cut off from the anchor by a gap in the range.
  const fill: { j: number; k: number }[] = [];
  for (const items of organs) {
    const { anchor, best } = anchorOf(items);
    const reachable = new Set<number>();
    if (best > 0 && items.size > 1) for (const dz of [1, -1]) for (let z = anchor; items.has(z); z += dz) reachable.add(z);
    for (const [z, { j, k }] of items) if (!own[j]![k] && !reachable.has(z)) fill.push({ j, k });
  }
  const extra = fill.length > 0 ? 1 : 0;
  if (fill.length > 0) {
    await step(
      fill.map(({ j, k }) => rowOf(j, k, { report: true })),
      fill,
    );
  }
  const chains: Chain[] = [];
  for (const items of organs) {
    if (items.size < 2) continue;
    const { anchor, best } = anchorOf(items);
    if (best <= 0) continue;
    const start = items.get(anchor)!;
    const anchorMask = own[start.j]![start.k]!.mask;
    for (const dz of [1, -1]) {
      const slices: Chain['slices'] = [];
      for (let z = anchor + dz; items.has(z); z += dz) slices.push({ ...items.get(z)!, z });
      if (slices.length) chains.push({ slices, anchor: anchorMask, previous: anchorMask, previousArea: best, shared: 0 });
    }
  }
  // With an agreement below 1, how much each slice's own mask shares with the one before it in
  // its chain (one chain of its own): a run of slices that agree is passed over without a step.
  const agreement = synpo.options.propagation.agreement;
  const mineOf = (c: Chain, t: number) => own[c.slices[t]!.j]![c.slices[t]!.k];
  const firstShared: number[][] = chains.map(() => []);
  if (agreement < 1) {
    const pairs = chains.flatMap((c) => c.slices.map((_, t) => [mineOf(c, t)!.mask, t === 0 ? c.anchor : mineOf(c, t - 1)!.mask] as const));
    const shared = await synpo.maskOverlaps(pairs);
    let i = 0;
    chains.forEach((c, n) => c.slices.forEach(() => firstShared[n]!.push(shared[i++]!)));
    chains.forEach((c, n) => (c.shared = firstShared[n]![0]!));
  }
  const agrees = (c: Chain, mine: OwnMask) => agreement < 1 && (2 * c.shared) / (mine.area + c.previousArea) > agreement;
  const steps = Math.max(0, ...chains.map((c) => c.slices.length));
  // The fill step's progress once its chains' count is known (the anchors it looked for decide it).
  if (extra) options.progress?.(1, steps + extra);
  for (let t = 0; t < steps; t++) {
    options.progress?.(t + 1 + extra, steps + extra);
    const rows: PropagationRow[] = [];
    const owners: Chain[] = [];
    for (const [n, chain] of chains.entries()) {
      const at = chain.slices[t];
      if (!at) continue;
      const mine = mineOf(chain, t);
      // A neighbour that found nothing guides nothing: the slice gets its own mask (made here if
      // the per-slice pass did not make it). One that agrees has nothing to correct.
      if (chain.previousArea <= 0 || (mine && agrees(chain, mine))) {
        if (mine) {
          chain.previous = mine.mask;
          chain.previousArea = mine.area;
          chain.shared = firstShared[n]![t + 1] ?? 0;
          continue;
        }
        rows.push(rowOf(at.j, at.k, { report: true }));
      } else {
        const next = agreement < 1 && t + 1 < chain.slices.length ? mineOf(chain, t + 1)!.mask : undefined;
        rows.push(rowOf(at.j, at.k, { guide: chain.previous, report: !firstPass[at.j]![at.k], ...(next && { next }) }));
      }
      owners.push(chain);
    }
    if (rows.length === 0) continue;
    const out = await step(
      rows,
      owners.map((chain) => chain.slices[t]!),
    );
    owners.forEach((chain, i) => {
      chain.previous = out.masks[i]!;
      chain.previousArea = out.areas[i]!;
      chain.shared = out.overlaps[i]!;
    });
  }
  return finals.map((rows) => rows.map((r) => r!));
}

/**
 * Propagation steps of several volumes at once (`synpo batch --jobs N`): volumes propagated at
 * the same time on the same kernels, each by its own Synpo, advance together: the steps that are
 * waiting when the device is free run as one chain (one submission on the GPU), their rows in
 * the same dispatches. A step waits only for a chain already running, never for another volume:
 * a volume that is still in its per-slice pass is not waited for. Each volume gets the masks its
 * own step would give (a row's result does not depend on the rows beside it).
 */
export class PropagationSteps {
  /** Chains run, and the volume steps they carried (steps / chains: how many volumes shared one). */
  readonly stats = { chains: 0, steps: 0 };
  private waiting: { request: PropagationStepRequest; resolve: (out: PropagationStepOut) => void; reject: (error: unknown) => void }[] = [];
  private running = false;

  /** One volume's step, run in the next chain with the other steps waiting then. */
  step(request: PropagationStepRequest): Promise<PropagationStepOut> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      // After the current macrotask: the other volumes' steps issued at the same time come along.
      if (!this.running) setTimeout(() => void this.flush(), 0);
    });
  }

  private async flush(): Promise<void> {
    if (this.running || this.waiting.length === 0) return;
    this.running = true;
    const batch = this.waiting.splice(0);
    try {
      // Only Synpos with one backend, kernels and options share a chain.
      const sets = new Map<string, typeof batch>();
      const ids = new Map<object, number>();
      const id = (o: object) => ids.get(o) ?? (ids.set(o, ids.size), ids.size - 1);
      for (const w of batch) {
        const { synpo } = w.request;
        const key = `${id(synpo.backend)}:${id(synpo.kernels)}:${JSON.stringify(synpo.options)}`;
        sets.set(key, [...(sets.get(key) ?? []), w]);
      }
      for (const set of sets.values()) {
        this.stats.chains++;
        this.stats.steps += set.length;
        try {
          const outs = await set[0]!.request.synpo.propagationSteps(set.map((w) => w.request));
          set.forEach((w, i) => w.resolve(outs[i]!));
        } catch (error) {
          for (const w of set) w.reject(error);
        }
      }
    } finally {
      this.running = false;
      if (this.waiting.length > 0) setTimeout(() => void this.flush(), 0);
    }
  }
}
