/**
 * The propagation pass along a query volume (PropagationOptions): after each slice of an organ's
 * range was segmented on its own, the slices are segmented again one after another, outward in
 * both directions from the slice with the largest mask, each guided by the mask its
 * already-propagated neighbour got (the fused confidence lowered away from it, and the decoder
 * prompted with it). A slice whose per-slice mask already agrees with its neighbour's final mask
 * (PropagationOptions.agreement) keeps it without a step: the pass corrects the slices that
 * disagree with their neighbours. No query labels are used. On by default;
 * `propagation.enabled: false` is the paper's protocol, each slice judged alone.
 *
 * It runs as a wavefront: every organ and both directions advance together, one step a chain
 * (Synpo.propagationStep), so a step's rows share their dispatches and, on the GPU, its one
 * submission. A neighbour's mask stays a tensor on the stream and guides the next step from
 * there; only each step's mask areas and overlaps come back (to know which neighbours found
 * nothing, and which next slices agree), and the final masks are read once at the end. The
 * results are those of the slice-by-slice order: each direction of each organ is its own chain of
 * slices, and a slice's result does not depend on the rows it shares a batch with.
 */
import type { Tensor, T } from '@synpo/gpu';
import type { PropagationRow, PropagationStepOut, PropagationStepRequest, QueryVolume, SegmentJob, SliceName, Synpo } from './synpo.ts';

/** A mask on the stream: row `row` of a tensor kept from an earlier chain. */
export interface MaskSource {
  tensor: T<'mask'>;
  row: number;
}

/** One direction of one organ: its slices outward from the anchor, and where it has got to. */
interface Chain {
  /** (job, index in the job) of each slice, in order. */
  slices: { j: number; k: number; z: number }[];
  /** The first-pass mask of the slice the chain starts from (the organ's largest). */
  anchor: MaskSource;
  /** The mask of the slice before the next one, and its area. */
  previous: MaskSource;
  previousArea: number;
  /** The pixels `previous` shares with the next slice's per-slice mask (PropagationOptions.agreement). */
  shared: number;
}

/**
 * Propagates through the slices of every organ of `jobs` (jobs of one organ: its thirds), starting
 * from the per-slice pass's masks and areas (`firstPass[j][k]` for slice k of job j). Returns the
 * final mask of every slice (the per-slice pass's where it was not segmented again); the tensors
 * it keeps are added to `kept` for the caller to release.
 */
export async function propagateJobs(
  synpo: Synpo,
  volume: QueryVolume,
  jobs: readonly SegmentJob[],
  names: readonly SliceName[],
  firstPass: readonly (readonly { mask: MaskSource; area: number }[])[],
  options: { progress?: (step: number, steps: number) => void; kept: Tensor[] },
): Promise<MaskSource[][]> {
  const finals = firstPass.map((rows) => rows.map((r) => r.mask));
  // Each organ's slices by index, from the union of its jobs.
  const organs = new Map<number, Map<number, { j: number; k: number }>>();
  jobs.forEach((job, j) => {
    const organ = job.organ ?? j;
    let items = organs.get(organ);
    if (!items) organs.set(organ, (items = new Map()));
    job.slices.forEach((z, k) => items!.set(z, { j, k }));
  });
  const chains: Chain[] = [];
  for (const items of organs.values()) {
    if (items.size < 2) continue;
    let anchor = -1;
    let best = -1;
    for (const [z, { j, k }] of [...items].sort(([a], [b]) => a - b)) {
      const area = firstPass[j]![k]!.area;
      if (area > best) [anchor, best] = [z, area];
    }
    if (best <= 0) continue;
    const start = items.get(anchor)!;
    for (const step of [1, -1]) {
      const slices: Chain['slices'] = [];
      for (let z = anchor + step; items.has(z); z += step) slices.push({ ...items.get(z)!, z });
      const anchorMask = firstPass[start.j]![start.k]!.mask;
      if (slices.length) chains.push({ slices, anchor: anchorMask, previous: anchorMask, previousArea: best, shared: 0 });
    }
  }
  // With an agreement below 1, how much each slice's per-slice mask shares with the one before it
  // in its chain (one chain of its own): a run of slices that agree is passed over without a step.
  const agreement = synpo.options.propagation.agreement;
  const own = (c: Chain, t: number) => firstPass[c.slices[t]!.j]![c.slices[t]!.k]!;
  const firstShared: number[][] = chains.map(() => []);
  if (agreement < 1) {
    const pairs = chains.flatMap((c) => c.slices.map((_, t) => [own(c, t).mask, t === 0 ? c.anchor : own(c, t - 1).mask] as const));
    const shared = await synpo.maskOverlaps(pairs);
    let i = 0;
    chains.forEach((c, n) => c.slices.forEach(() => firstShared[n]!.push(shared[i++]!)));
    chains.forEach((c, n) => (c.shared = firstShared[n]![0]!));
  }
  const agrees = (c: Chain, mine: { area: number }) => agreement < 1 && (2 * c.shared) / (mine.area + c.previousArea) > agreement;
  const steps = Math.max(0, ...chains.map((c) => c.slices.length));
  for (let t = 0; t < steps; t++) {
    options.progress?.(t + 1, steps);
    const rows: PropagationRow[] = [];
    const owners: Chain[] = [];
    for (const [n, chain] of chains.entries()) {
      const slice = chain.slices[t];
      if (!slice) continue;
      const mine = own(chain, t);
      // A neighbour that found nothing guides nothing, and one that agrees has nothing to correct:
      // the slice keeps its own mask.
      if (chain.previousArea <= 0 || agrees(chain, mine)) {
        chain.previous = mine.mask;
        chain.previousArea = mine.area;
        chain.shared = firstShared[n]![t + 1] ?? 0;
        continue;
      }
      const atlas = jobs[slice.j]!.atlas?.[slice.k];
      const next = agreement < 1 && t + 1 < chain.slices.length ? own(chain, t + 1).mask : undefined;
      rows.push({ z: slice.z, support: jobs[slice.j]!.support, guide: chain.previous, ...(next && { next }), ...(atlas && { atlas }) });
      owners.push(chain);
    }
    if (rows.length === 0) continue;
    const out = await synpo.propagationStep(volume, rows, names);
    options.kept.push(...out.kept);
    synpo.propagation.steps++;
    synpo.propagation.slices += rows.length;
    owners.forEach((chain, i) => {
      const slice = chain.slices[t]!;
      finals[slice.j]![slice.k] = out.masks[i]!;
      chain.previous = out.masks[i]!;
      chain.previousArea = out.areas[i]!;
      chain.shared = out.overlaps[i]!;
    });
  }
  return finals;
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
