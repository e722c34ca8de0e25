/**
 * `synpo bench --only volume`: one whole CHAOS volume (support scan 8, query scan 2), all four
 * organs in one pass, as `synpo segment --organs all` runs it, with the propagation pass on (the
 * default: the anchor looked for among every 8th slice; and with an anchor stride of 1, every
 * slice segmented on its own first, then again by the pass) and off: on the GPU path (when there is an adapter), the CPU references in one thread, and the
 * CPU references on worker threads. Per run: seconds, organ-slices per second, slices encoded,
 * and on the GPU what crossed between host and device against the limits the pipeline keeps.
 *
 * Each path first runs the volume once untimed (propagation on, so every kernel is met): the
 * first run of a process pays the JIT and, on the GPU, the pipelines' compilation, which would
 * otherwise land on whichever row comes first (the threaded path's warm-up also leaves its workers
 * compiled and idle for the next call). The timed runs then alternate on and off, `reps` times
 * each (the median reported).
 */
import {
  CHAOS_T2,
  DEFAULT_OPTIONS,
  dice,
  labelsToRoi,
  overlap,
  prepareVolume,
  segmentOrgans,
  Synpo,
  transferBounds,
  weightFreeBackend,
  type PreparedVolume,
} from '@synpo/core';
import { defaultThreads, segmentOrgansOnThreads } from '@synpo/core/node';
import { cpuKernels, median, type Kernels } from '@synpo/gpu';
import { readNifti } from '@synpo/io/node';

/** A row's propagation setting as the tables print it: on, on with another anchor stride than the default, or off. */
export const propagationLabel = (c: { propagation: boolean; anchorStride: number }): string =>
  c.propagation ? `on${c.anchorStride !== DEFAULT_OPTIONS.propagation.anchorStride ? `, anchor stride ${c.anchorStride}` : ''}` : 'off';

export interface VolumeBenchRow {
  path: string;
  propagation: boolean;
  /** PropagationOptions.anchorStride (1: every slice segmented on its own first). */
  anchorStride: number;
  threads: number;
  seconds: number;
  organSlices: number;
  organSlicesPerSecond: number;
  encodedSlices: number;
  perSliceSlices: number;
  propagatedSlices: number;
  propagationSteps: number;
  /** GPU path: what crossed, and the bounds it is held to. */
  transfers: null | {
    uploadBytes: number;
    readbackBytes: number;
    submits: number;
    maps: number;
    /** The bounds of transferBounds (@synpo/core). */
    uploadLimit: number;
    readbackLimit: number;
    submitsLimit: number;
  };
}

export interface VolumeBenchReport {
  support: string;
  query: string;
  organs: string[];
  rows: VolumeBenchRow[];
  /** Propagation's cost: seconds on / off, per path and anchor stride. */
  propagationRatio: { path: string; anchorStride: number; ratio: number }[];
  /** Per organ, the 3-D Dice of the GPU path's labels against the CPU's (propagation on); null without a GPU. */
  gpuVsCpuDice: { organ: string; dice: number }[] | null;
  /** Whether the threaded CPU runs gave the one-thread labels byte for byte. */
  threadsIdentical: boolean | null;
  /** Timed runs per row (the median reported), after one untimed warm-up run per path. */
  reps: number;
}

function organDice(a: Uint16Array, b: Uint16Array, value: number): number {
  return dice(
    overlap(
      a.map((v) => (v === value ? 1 : 0)),
      b.map((v) => (v === value ? 1 : 0)),
    ),
  );
}

export async function runVolumeBench(dataDir: string, gpu: Kernels | null, log: (m: string) => void, reps = 1): Promise<VolumeBenchReport> {
  const cpu = cpuKernels();
  const supportImage = await readNifti(`${dataDir}/image_8.nii.gz`);
  const supportLabel = await readNifti(`${dataDir}/label_8.nii.gz`);
  const queryImage = await readNifti(`${dataDir}/image_2.nii.gz`);
  const support = prepareVolume(supportImage);
  const query: PreparedVolume = prepareVolume(queryImage);
  const organs = Object.entries(CHAOS_T2.labels).map(([name, value]) => ({ name, value, masks: labelsToRoi(supportLabel, support, value) }));
  const threads = Math.min(defaultThreads(), organs.length);
  // The CPU paths first: on a software adapter the GPU runs leave the process's heap and the
  // driver's threads behind them.
  const paths: { name: string; kernels: Kernels; threads: number }[] = [
    { name: 'CPU references, 1 thread', kernels: cpu, threads: 1 },
    ...(threads > 1 ? [{ name: `CPU references, ${threads} threads`, kernels: cpu, threads }] : []),
    ...(gpu ? [{ name: `GPU (${gpu.path === 'gpu' ? 'WebGPU' : 'CPU'})`, kernels: gpu, threads: 1 }] : []),
  ];
  const rows: VolumeBenchRow[] = [];
  const labels = new Map<string, Uint16Array>();
  const configs = [
    { propagation: true, anchorStride: DEFAULT_OPTIONS.propagation.anchorStride },
    { propagation: true, anchorStride: 1 },
    { propagation: false, anchorStride: DEFAULT_OPTIONS.propagation.anchorStride },
  ];
  type Config = (typeof configs)[number];
  const once = async (path: (typeof paths)[number], c: Config) => {
    const options = { points: CHAOS_T2.band, propagation: { enabled: c.propagation, anchorStride: c.anchorStride } };
    const synpo = new Synpo(weightFreeBackend(), path.kernels, options);
    const t0 = performance.now();
    const r =
      path.threads > 1
        ? await segmentOrgansOnThreads({ support, query, organs, options: synpo.options, threads: path.threads })
        : await segmentOrgans({ synpo, support, query, organs });
    return { synpo, r, seconds: (performance.now() - t0) / 1000 };
  };
  for (const path of paths) {
    // Untimed: the JIT, the pipelines' compilation and (threads) the workers' code land on no row.
    log(`bench volume: ${path.name}, warm-up run`);
    await once(path, configs[0]!);
    const runs = new Map<Config, Awaited<ReturnType<typeof once>>[]>(configs.map((c) => [c, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (const c of configs) {
        log(`bench volume: ${path.name}, propagation ${propagationLabel(c)}${reps > 1 ? `, run ${rep + 1} of ${reps}` : ''}`);
        runs.get(c)!.push(await once(path, c));
      }
    }
    for (const c of configs) {
      const { synpo, r } = runs.get(c)![0]!;
      const seconds = median(runs.get(c)!.map((x) => x.seconds));
      if (c === configs[0]) labels.set(path.name, r.labels);
      rows.push({
        path: path.name,
        propagation: c.propagation,
        anchorStride: c.anchorStride,
        threads: path.threads,
        seconds,
        organSlices: r.organSlices,
        organSlicesPerSecond: r.organSlices / seconds,
        encodedSlices: r.encodedSlices,
        perSliceSlices: r.perSliceSlices,
        propagatedSlices: r.propagatedSlices,
        propagationSteps: r.propagationSteps,
        transfers:
          r.transfers &&
          (({ uploadBytes, readbackBytes, submits }) => ({ ...r.transfers!, uploadLimit: uploadBytes, readbackLimit: readbackBytes, submitsLimit: submits }))(
            transferBounds(synpo.options, r, query),
          ),
      });
    }
  }
  const one = labels.get('CPU references, 1 thread')!;
  const threaded = paths.find((p) => p.threads > 1);
  const gpuLabels = gpu ? labels.get(paths[paths.length - 1]!.name)! : null;
  return {
    support: `${dataDir}/image_8.nii.gz`,
    query: `${dataDir}/image_2.nii.gz`,
    organs: organs.map((o) => o.name),
    rows,
    propagationRatio: paths.flatMap((p) => {
      const mine = rows.filter((r) => r.path === p.name);
      const off = mine.find((r) => !r.propagation)!.seconds;
      return mine.filter((r) => r.propagation).map((r) => ({ path: p.name, anchorStride: r.anchorStride, ratio: r.seconds / off }));
    }),
    gpuVsCpuDice: gpuLabels && organs.map((o) => ({ organ: o.name, dice: organDice(gpuLabels, one, o.value) })),
    threadsIdentical: threaded ? Buffer.from(labels.get(threaded.name)!.buffer).equals(Buffer.from(one.buffer)) : null,
    reps,
  };
}
