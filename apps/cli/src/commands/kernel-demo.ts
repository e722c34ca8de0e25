/**
 * `synpo kernel-demo`: every kernel in SynPo's order on a synthetic case that needs no files: two
 * "encoders" give noisy feature grids of an organ that moved between the support and the query;
 * the prototype, confidences, synergy, negative statistics, band, top-k, k-means points, opening
 * and components follow, and the result is compared with the query's truth and, on the GPU
 * path, every kernel call with its CPU reference on the same inputs (exit 1 if one differs).
 */
import type { Command } from 'commander';
import { createRng, cpuKernels, HostTensor, wrapKernels, type Kernels } from '@synpo/gpu';
import {
  band as bandKernel,
  bestComponent,
  components,
  confidence,
  drawIntegers,
  KMEANS_DEFAULT_MAX_ITERATIONS,
  kmeans,
  moments,
  morphology,
  prototype,
  synergy,
  topk,
} from '@synpo/gpu/kernels';
import { dice, overlap } from '@synpo/core';
import { computeFor } from '../compute.ts';
import { integer, SEED } from '../numbers.ts';
import { deviceOption, type Runner } from '../options.ts';

const G = 64; // grid side
const N = G * G;

function ellipse(cx: number, cy: number, rx: number, ry: number): Uint8Array {
  const m = new Uint8Array(N);
  for (let y = 0; y < G; y++) for (let x = 0; x < G; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) m[y * G + x] = 1;
  return m;
}

/** Channel-first features: organ cells near one signature, background near a smooth field. */
function encode(organ: Uint8Array, C: number, noise: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const sig = Float32Array.from({ length: C }, () => rng() - 0.5);
  const out = new Float32Array(C * N);
  for (let c = 0; c < C; c++) {
    const phase = rng() * 6.28;
    for (let i = 0; i < N; i++) {
      const bg = Math.sin(phase + (i % G) / 9 + Math.floor(i / G) / 13);
      out[c * N + i] = (organ[i] ? 1.5 * sig[c]! : 0.5 * bg) + noise * (rng() - 0.5);
    }
  }
  return out;
}

async function synpoOnGrids(k: Kernels, seed: number) {
  const supportTruth = ellipse(30, 28, 12, 9);
  const queryTruth = ellipse(35, 32, 11, 10);
  const C = 48;
  const encoders = [
    { support: encode(supportTruth, C, 1.2, 1), query: encode(queryTruth, C, 1.2, 1) },
    { support: encode(supportTruth, C, 2.0, 2), query: encode(queryTruth, C, 2.0, 2) },
  ];
  const stages: [string, number][] = [];
  const stage = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    stages.push([name, performance.now() - t0]);
    return r;
  };
  const shape = { B: 1, C, N };
  const f32 = (shape: number[], data: Float32Array) => new HostTensor('f32', shape, data);
  const mask = (data: Uint8Array) => new HostTensor('mask', [1, N], data);
  const conf: Float32Array[] = [];
  const neg: Float32Array[] = [];
  for (const e of encoders) {
    const proto = await stage('prototype', () => k.run(prototype, { features: f32([1, C, N], e.support), masks: mask(supportTruth) }, shape));
    const prototypes = f32([C], proto.data);
    conf.push((await stage('confidence', () => k.run(confidence, { features: f32([1, C, N], e.query), prototypes }, shape))).data);
    neg.push((await stage('confidence', () => k.run(confidence, { features: f32([1, C, N], e.support), prototypes }, shape))).data);
  }
  const w = { both: 0.8, sam: 0.1, dino: 0.1 };
  const synmap = (await stage('synergy', () => k.run(synergy, { a: f32([N], conf[0]!), b: f32([N], conf[1]!) }, w))).data;
  const synneg = (await stage('synergy', () => k.run(synergy, { a: f32([N], neg[0]!), b: f32([N], neg[1]!) }, w))).data;
  const background = supportTruth.map((v) => 1 - v);
  const stats = await stage('moments', () => k.run(moments, { values: f32([1, N], synneg), mask: mask(background) }, { B: 1, N }));
  const [, mu, sigma] = stats.data as unknown as [number, number, number];
  const inBand = await stage('band', () =>
    k.run(bandKernel, { values: f32([1, N], synmap), bounds: f32([1, 2], Float32Array.of(mu, mu + 1.5 * sigma)) }, { B: 1, N }),
  );
  const band = inBand.indices.data.subarray(0, inBand.counts.data[0]);
  const top = await stage('topk', () => k.run(topk, { values: f32([1, N], synmap) }, { B: 1, N, k: 32 }));
  const toXY = (idx: ArrayLike<number>) => Float32Array.from({ length: 2 * idx.length }, (_, t) => (t % 2 ? Math.floor(idx[t >> 1]! / G) : idx[t >> 1]! % G));
  const rng = createRng(seed, 99);
  const candidates = Array.from(band);
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  // Row 0 the top cells, row 1 up to 32 of the band's: k-means++ from seeded draws, then Lloyd.
  const rows = [toXY(top.indices.data), toXY(candidates.slice(0, 32))];
  const points = new Float32Array(2 * 32 * 2);
  rows.forEach((r, b) => points.set(r, b * 64));
  const clusters = await stage('kmeans', () =>
    k.run(
      kmeans,
      {
        points: f32([2, 32, 2], points),
        counts: new HostTensor(
          'u32',
          [2],
          Uint32Array.from(rows, (r) => r.length / 2),
        ),
        draws: new HostTensor('u32', [2, 4], drawIntegers(createRng(seed), 8)),
      },
      { B: 2, n: 32, k: 4, maxIterations: KMEANS_DEFAULT_MAX_ITERATIONS },
    ),
  );
  const live = (b: number) => Array.from({ length: 4 }, (_, c) => b * 4 + c).filter((slot) => clusters.sizes.data[slot]! > 0);
  const centres = (b: number) => Float32Array.from(live(b).flatMap((slot) => [clusters.centroids.data[2 * slot]!, clusters.centroids.data[2 * slot + 1]!]));
  // A crude coarse mask: confidence above the negatives' μ + 2σ; then NRM's opening and best component.
  const coarse = Uint8Array.from(synmap, (v) => (v > mu + 2 * sigma ? 1 : 0));
  const image = { B: 1, H: G, W: G };
  const element = { shape: 'disc', radius: 1 } as const;
  const opened = await stage('morphology', async () => {
    const eroded = await k.run(morphology, { masks: mask(coarse) }, { ...image, op: 'erode', element });
    return k.run(morphology, { masks: eroded }, { ...image, op: 'dilate', element });
  });
  const labels = await stage('components', () => k.run(components, { masks: opened }, { ...image, connectivity: 8 }));
  const best = await stage('components', () => k.run(bestComponent, { masks: opened, values: f32([1, N], synmap) }, { ...image, connectivity: 8 }));
  return {
    stages,
    mu,
    sigma,
    band: band.length,
    positives: centres(0),
    negatives: centres(1),
    components: labels.roots.data.filter((r, i) => r === i).length,
    dice: dice(overlap(best.mask.data, queryTruth)),
    synmap,
  };
}

/** A kernel's result (typed arrays, rows of them, or objects of numbers) as a flat list of numbers. */
function numbers(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.flatMap(numbers);
  // Fields in name order: the two paths may build their result objects in different orders.
  if (value && typeof value === 'object')
    return Object.keys(value)
      .sort()
      .flatMap((k) => numbers((value as Record<string, unknown>)[k]));
  return [];
}

export interface StageCheck {
  stage: string;
  values: number;
  /** Largest |GPU − CPU| over the stage's outputs (Infinity when their sizes differ). */
  maxAbsDiff: number;
  ok: boolean;
}

/**
 * Kernels that run every call on `gpu` and again on the CPU references with the same inputs, and
 * file the comparison in `checks`: each kernel of the walk is checked on exactly its own inputs.
 */
function checkedKernels(gpu: Kernels, checks: StageCheck[]): Kernels {
  const cpu = cpuKernels();
  return wrapKernels(
    () => gpu,
    async (name, run) => {
      const got = await run(gpu);
      const g = numbers(got);
      const c = numbers(await run(cpu));
      let maxAbsDiff = g.length === c.length ? 0 : Infinity;
      let ok = g.length === c.length;
      for (let j = 0; ok && j < g.length; j++) {
        const d = Math.abs(g[j]! - c[j]!);
        maxAbsDiff = Math.max(maxAbsDiff, d);
        if (!(d <= 1e-4 + 1e-4 * Math.abs(c[j]!))) ok = false;
      }
      checks.push({ stage: name, values: g.length, maxAbsDiff, ok });
      return got;
    },
  );
}

export function kernelDemoCommand(program: Command, run: Runner): void {
  program
    .command('kernel-demo')
    .description('run every SynPo kernel on a built-in synthetic case (no files needed); on the GPU, check every stage against the CPU references')
    .addOption(deviceOption())
    .option('--seed <n>', 'seed for the random choices', integer('--seed', SEED), 1)
    .option('--json', 'print one JSON object')
    .action(
      run(async (opts: { device: 'auto' | 'gpu' | 'cpu'; seed: number; json?: boolean }) => {
        const compute = await computeFor(opts.device);
        try {
          const checks: StageCheck[] = [];
          const onGpu = compute.kernels.path === 'gpu';
          const result = await synpoOnGrids(onGpu ? checkedKernels(compute.kernels, checks) : compute.kernels, opts.seed);
          // The fused map's agreement, the number a glance needs.
          const agreement = onGpu ? Math.max(...checks.filter((c) => c.stage === 'synergy').map((c) => c.maxAbsDiff)) : null;
          const summary = {
            path: compute.kernels.path,
            adapter: compute.adapter?.description ?? null,
            mu: result.mu,
            sigma: result.sigma,
            bandCells: result.band,
            positives: Array.from(result.positives),
            negatives: Array.from(result.negatives),
            components: result.components,
            dice: result.dice,
            maxAbsDiffVsCpu: agreement,
            checks,
            stagesMs: Object.fromEntries(result.stages.reduce((m, [n, t]) => m.set(n, (m.get(n) ?? 0) + t), new Map<string, number>())),
          };
          if (opts.json) {
            process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          } else {
            const pts = (p: number[]) =>
              p.reduce<string[]>((acc, v, i) => (i % 2 ? [...acc.slice(0, -1), `${acc.at(-1)},${v.toFixed(1)})`] : [...acc, `(${v.toFixed(1)}`]), []).join(' ');
            process.stdout.write(
              [
                `synpo kernel-demo: synthetic 64×64 grids, two encoders, ${compute.kernels.path === 'gpu' ? `WebGPU on ${summary.adapter}` : 'CPU reference kernels'}`,
                `negatives: μ = ${summary.mu.toFixed(4)}, σ = ${summary.sigma.toFixed(4)}; band [μ, μ+1.5σ] holds ${summary.bandCells} cells`,
                `positive points: ${pts(summary.positives)}`,
                `negative points: ${pts(summary.negatives)}`,
                `coarse mask: ${summary.components} component(s) after opening; best kept`,
                `Dice against the query's truth: ${(100 * summary.dice).toFixed(1)}`,
                ...checks.map(
                  (c) => `GPU vs CPU reference, ${c.stage}: ${c.values} values, max |Δ| = ${c.maxAbsDiff.toExponential(2)} ${c.ok ? 'ok' : 'DIFFERS'}`,
                ),
                `stage times (ms): ${Object.entries(summary.stagesMs)
                  .map(([n, t]) => `${n} ${t.toFixed(1)}`)
                  .join(', ')}`,
              ]
                .filter(Boolean)
                .join('\n') + '\n',
            );
          }
          // Checking is the point: a stage where the GPU and the references disagree fails the run.
          return checks.every((c) => c.ok) ? 0 : 1;
        } finally {
          compute.release();
        }
      }),
    );
}
