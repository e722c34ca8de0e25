/**
 * The kernel benchmark behind `synpo bench` / `pnpm bench`: for every kernel at SynPo's working
 * sizes, the median GPU time (timestamp queries when the adapter has them, else submit-to-done
 * wall time, labelled as such), the CPU reference's median time, and the achieved GB/s or
 * GFLOP/s; then the fused-vs-naive confidence ratio. Numbers only: nothing here asserts.
 */
import { cpuKernels, gpuKernels, type Kernels } from './kernels.ts';
import {
  band,
  bestComponent,
  confidence,
  confidenceNaive,
  downsampleMask,
  drawIntegers,
  KMEANS_DEFAULT_MAX_ITERATIONS,
  kmeans,
  moments,
  morphology,
  packVoxels,
  prepareSlices,
  prototype,
  synergy,
  topk,
  upsampleBilinear,
} from './kernels/index.ts';
import { createRng } from './random.ts';
import { GpuRuntime } from './runtime.ts';
import { elementCount, HostTensor } from './tensor.ts';

export interface KernelBenchRow {
  kernel: string;
  shape: string;
  /** Median GPU time in ms, or null on the CPU-only path. */
  gpuMs: number | null;
  /** 'timestamp' (kernel time from timestamp queries) or 'wall' (submit to readback). */
  gpuTiming: 'timestamp' | 'wall' | null;
  /** Median wall time of the same call, GPU path, including upload and readback. */
  gpuWallMs: number | null;
  cpuMs: number;
  /** Achieved rate on the GPU (or the CPU when there is no GPU), with its unit. */
  rate: number;
  unit: 'GB/s' | 'GFLOP/s';
}

export interface ConfidenceRatioRow {
  n: number;
  C: number;
  B: number;
  fusedMs: number;
  naiveMs: number;
  /** naiveMs / fusedMs. */
  ratio: number;
  /** Query cells the naive time was measured on; when fewer than B·N it is scaled linearly. */
  naiveCellsMeasured: number;
}

export interface BenchReport {
  device: string;
  timing: 'timestamp' | 'wall' | 'cpu-only';
  reps: number;
  kernels: KernelBenchRow[];
  confidenceRatio: ConfidenceRatioRow[];
}

export interface BenchOptions {
  device: GPUDevice | null;
  deviceName: string;
  reps?: number;
  /** Smaller sizes and fewer ratio cases, for a quick look (and CI smoke runs). */
  quick?: boolean;
  /** Only kernels whose name contains one of these. */
  only?: string[];
  progress?: (message: string) => void;
  /** Naive confidence is timed on at most this many GFLOP of query cells, then scaled. */
  naiveBudgetGflop?: number;
}

/** The median (mean of the middle two for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function data(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng() * 2 - 1);
}

function mask(n: number, density: number, seed: number): Uint8Array {
  const rng = createRng(seed, 3);
  const m = Uint8Array.from({ length: n }, () => (rng() < density ? 1 : 0));
  m[0] = 1;
  return m;
}

interface Case {
  kernel: string;
  shape: string;
  run: (k: Kernels) => Promise<unknown>;
  bytes?: number;
  flops?: number;
}

function cases(quick: boolean): Case[] {
  const B = quick ? 4 : 32;
  const C = 256;
  const N = 4096;
  const f32 = (shape: number[], seed: number, map = (v: number) => v) => new HostTensor('f32', shape, data(elementCount(shape), seed).map(map));
  const feats = f32([B, C, N], 1);
  const proto = f32([C], 2);
  const support = f32([3, C, N], 3);
  const supportMask = new HostTensor('mask', [3, N], mask(3 * N, 0.1, 4));
  const maps = f32([B, N], 5);
  const mapsB = f32([B, N], 6);
  const big = f32([B, 65536], 7);
  const big1 = new HostTensor('f32', [1, 65536], big.data.subarray(0, 65536));
  const masks256 = new HostTensor('mask', [B, 65536], mask(B * 65536, 0.5, 8));
  const points = f32([B, 32, 2], 10, (v) => 128 + 100 * v);
  const counts = new HostTensor('u32', [B], new Uint32Array(B).fill(32));
  const draws = new HostTensor('u32', [B, 4], drawIntegers(createRng(1), B * 4));
  const bounds = new HostTensor(
    'f32',
    [B, 2],
    Float32Array.from({ length: 2 * B }, (_, i) => (i % 2 ? 0.5 : 0)),
  );
  const packed = packVoxels(data(B * 257 * 257, 11).map((v) => Math.floor(128 + 127 * v)));
  const sabsVoxels = new HostTensor('u32', [packed.words.length], packed.words);
  const w = { both: 0.8, sam: 0.1, dino: 0.1 };
  return [
    {
      kernel: 'prototype',
      shape: `B=3 C=${C} N=${N}`,
      run: (k) => k.run(prototype, { features: support, masks: supportMask }, { B: 3, C, N }),
      bytes: 4 * (3 * C * N * 2 + 3 * N),
    },
    {
      kernel: 'confidence',
      shape: `B=${B} C=${C} N=${N}`,
      run: (k) => k.run(confidence, { features: feats, prototypes: proto }, { B, C, N }),
      flops: 4 * B * C * N,
      bytes: 4 * (B * C * N + B * N),
    },
    { kernel: 'synergy', shape: `${B}×64×64`, run: (k) => k.run(synergy, { a: maps, b: mapsB }, w), bytes: 12 * B * N },
    {
      kernel: 'resize (bilinear)',
      shape: `B=${B} 64→256`,
      run: (k) => k.run(upsampleBilinear, { maps }, { B, inH: 64, inW: 64, outH: 256, outW: 256 }),
      bytes: 4 * (B * N + B * 65536),
    },
    {
      kernel: 'resize (mask area)',
      shape: 'B=3 256→64',
      run: (k) =>
        k.run(
          downsampleMask,
          { masks: new HostTensor('mask', [3, 65536], masks256.data.subarray(0, 3 * 65536)) },
          { B: 3, inH: 256, inW: 256, outH: 64, outW: 64 },
        ),
      bytes: 4 * 3 * (65536 + 4096),
    },
    {
      // A SABS query's slices from its uint8 voxels: clip and scale, then 257² → 256².
      kernel: 'prepare',
      shape: `B=${B} uint8 257²→256²`,
      run: (k) =>
        k.run(
          prepareSlices,
          { voxels: sabsVoxels },
          { format: 'u8', nx: 257, ny: 257, nz: B, region: [0, 0, 257, 257], lo: 0, span: 255, outH: 256, outW: 256 },
        ),
      bytes: B * 257 * 257 * (1 + 4 + 4) + 4 * B * 65536,
    },
    { kernel: 'moments', shape: 'B=1 N=65536', run: (k) => k.run(moments, { values: big1, mask: null }, { B: 1, N: 65536 }), bytes: 4 * 65536 * 2 },
    { kernel: 'band', shape: `B=${B} N=65536`, run: (k) => k.run(band, { values: big, bounds }, { B, N: 65536 }), bytes: 4 * B * 65536 * 3 },
    { kernel: 'topk', shape: `B=${B} N=4096 k=32`, run: (k) => k.run(topk, { values: maps }, { B, N, k: 32 }), bytes: 4 * B * N * 2 },
    { kernel: 'topk', shape: 'B=1 N=65536 k=1024', run: (k) => k.run(topk, { values: big1 }, { B: 1, N: 65536, k: 1024 }), bytes: 4 * 65536 * 2 },
    {
      kernel: 'kmeans',
      shape: `B=${B} 32 points k=4`,
      run: (k) => k.run(kmeans, { points, counts, draws }, { B, n: 32, k: 4, maxIterations: KMEANS_DEFAULT_MAX_ITERATIONS }),
      bytes: 4 * B * 32 * 2,
    },
    {
      kernel: 'morphology',
      shape: `B=${B} 256×256 disc r=2`,
      run: (k) => k.run(morphology, { masks: masks256 }, { B, H: 256, W: 256, op: 'erode', element: { shape: 'disc', radius: 2 } }),
      bytes: 8 * B * 65536,
    },
    {
      kernel: 'components (best)',
      shape: `B=${B} 256×256 8-conn`,
      run: (k) => k.run(bestComponent, { masks: masks256, values: big }, { B, H: 256, W: 256, connectivity: 8 }),
      bytes: 4 * B * 65536 * 5,
    },
  ];
}

async function timeCalls(reps: number, call: () => Promise<unknown>): Promise<number[]> {
  await call(); // warm-up: pipeline compilation and pool fill
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await call();
    times.push(performance.now() - t0);
  }
  return times;
}

/** Runs `call` on the profiled runtime and returns the median of summed kernel times. */
async function timeKernels(rt: GpuRuntime, reps: number, call: () => Promise<unknown>, labels?: RegExp): Promise<number> {
  await call();
  const totals: number[] = [];
  for (let r = 0; r < reps; r++) {
    rt.profiler!.reset();
    await call();
    totals.push(rt.profiler!.timings.filter((t) => !labels || labels.test(t.label)).reduce((s, t) => s + t.ms, 0));
  }
  return median(totals);
}

export async function runKernelBench(options: BenchOptions): Promise<BenchReport> {
  const reps = options.reps ?? (options.quick ? 3 : 7);
  const log = options.progress ?? (() => {});
  const cpu = cpuKernels();
  const wallRt = options.device ? new GpuRuntime(options.device) : null;
  const profRt = options.device ? new GpuRuntime(options.device, { profile: true }) : null;
  const stamps = Boolean(profRt?.profiler);
  const wallGpu = wallRt ? gpuKernels(wallRt) : null;
  const profGpu = profRt ? gpuKernels(profRt) : null;
  const rows: KernelBenchRow[] = [];
  for (const c of cases(Boolean(options.quick))) {
    if (options.only && !options.only.some((o) => c.kernel.includes(o))) continue;
    log(`bench ${c.kernel} ${c.shape}`);
    const cpuMs = median(await timeCalls(reps, () => c.run(cpu)));
    let gpuMs: number | null = null;
    let gpuWallMs: number | null = null;
    if (wallGpu && profGpu && profRt) {
      gpuWallMs = median(await timeCalls(reps, () => c.run(wallGpu)));
      gpuMs = stamps ? await timeKernels(profRt, reps, () => c.run(profGpu)) : gpuWallMs;
    }
    const ms = gpuMs ?? cpuMs;
    const rate = c.flops ? c.flops / ms / 1e6 : (c.bytes ?? 0) / ms / 1e6;
    rows.push({
      kernel: c.kernel,
      shape: c.shape,
      gpuMs,
      gpuTiming: gpuMs === null ? null : stamps ? 'timestamp' : 'wall',
      gpuWallMs,
      cpuMs,
      rate,
      unit: c.flops ? 'GFLOP/s' : 'GB/s',
    });
  }

  const ratio: ConfidenceRatioRow[] = [];
  const runRatio = !options.only || options.only.some((o) => 'confidence'.includes(o));
  const kernels = profGpu ?? cpu;
  if (runRatio) {
    const budget = (options.naiveBudgetGflop ?? (options.quick ? 0.2 : 1)) * 1e9;
    const ns = options.quick ? [100, 1000] : [100, 1000, 4000];
    const Cs = options.quick ? [256] : [256, 1536];
    const Bs = options.quick ? [1, 4] : [1, 32];
    const N = 4096;
    for (const C of Cs) {
      const support = data(C * N, 20);
      for (const n of ns) {
        // Exactly n foreground cells, spread over the grid.
        const m = new Uint8Array(N);
        for (let t = 0; t < n; t++) m[Math.floor((t * N) / n)] = 1;
        for (const B of Bs) {
          log(`bench confidence ratio n=${n} C=${C} B=${B}`);
          const query = data(B * C * N, 21);
          const supportT = new HostTensor('f32', [1, C, N], support);
          const queryT = new HostTensor('f32', [B, C, N], query);
          const fused = () =>
            kernels.chain('confidence', async (s) => {
              const proto = s.run(prototype, { features: s.upload(supportT.data, supportT.shape), masks: s.upload(m, [1, N]) }, { B: 1, C, N });
              return s.read(s.run(confidence, { features: s.upload(queryT.data, queryT.shape), prototypes: proto }, { B, C, N }));
            });
          // The literal form costs 2·n·C flops per query cell; time as many cells as the budget
          // allows (whole grids first, else the first cells of one grid) and scale linearly.
          const cellFlops = 2 * n * C;
          const cells = Math.max(64, Math.min(B * N, Math.floor(budget / cellFlops)));
          const grids = Math.max(1, Math.floor(cells / N));
          const perGrid = grids > 1 ? N : Math.min(N, cells);
          const naiveQuery = new Float32Array(grids * C * perGrid);
          for (let b = 0; b < grids; b++) {
            for (let c = 0; c < C; c++) naiveQuery.set(query.subarray((b * C + c) * N, (b * C + c) * N + perGrid), (b * C + c) * perGrid);
          }
          const naive = () =>
            kernels.run(
              confidenceNaive,
              { query: new HostTensor('f32', [grids, C, perGrid], naiveQuery), support: new HostTensor('f32', [C, N], support) },
              { B: grids, C, N: perGrid, supportMask: m },
            );
          const fusedMs = profRt?.profiler ? await timeKernels(profRt, reps, fused) : median(await timeCalls(reps, fused));
          const naiveMeasured = profRt?.profiler ? await timeKernels(profRt, 1, naive) : median(await timeCalls(1, naive));
          const measuredCells = grids * perGrid;
          const naiveMs = (naiveMeasured * B * N) / measuredCells;
          ratio.push({ n, C, B, fusedMs, naiveMs, ratio: naiveMs / fusedMs, naiveCellsMeasured: measuredCells });
        }
      }
    }
  }
  wallRt?.destroy();
  profRt?.destroy();
  return {
    device: options.deviceName,
    timing: options.device ? (stamps ? 'timestamp' : 'wall') : 'cpu-only',
    reps,
    kernels: rows,
    confidenceRatio: ratio,
  };
}

const fmt = (v: number | null, digits = 3): string => (v === null ? '—' : v >= 100 ? v.toFixed(0) : v.toPrecision(digits));

/** The report as the Markdown tables the README quotes. */
export function formatBenchReport(r: BenchReport): string {
  const gpuHead = r.timing === 'timestamp' ? 'GPU ms (timestamp)' : r.timing === 'wall' ? 'GPU ms (wall, no timestamps)' : 'GPU ms';
  const lines = [
    `device: ${r.device}; median of ${r.reps} runs after one warm-up`,
    '',
    `| kernel | shape | ${gpuHead} | GPU ms (wall, incl. upload+readback) | CPU reference ms | rate |`,
    '|---|---|---:|---:|---:|---:|',
    ...r.kernels.map(
      (k) =>
        `| ${k.kernel} | ${k.shape} | ${fmt(k.gpuMs)} | ${fmt(k.gpuWallMs)} | ${fmt(k.cpuMs)} | ${fmt(k.rate)} ${k.unit}${k.gpuMs === null ? ' (CPU)' : ''} |`,
    ),
  ];
  if (r.confidenceRatio.length) {
    lines.push(
      '',
      'Fused confidence (prototype + one dot product per cell) vs the literal mean of n cosines, N = 64×64 cells:',
      '',
      '| n | C | B | fused ms | naive ms | naive / fused |',
      '|---:|---:|---:|---:|---:|---:|',
      ...r.confidenceRatio.map(
        (c) =>
          `| ${c.n} | ${c.C} | ${c.B} | ${fmt(c.fusedMs)} | ${fmt(c.naiveMs)}${c.naiveCellsMeasured < c.B * 4096 ? ` (scaled from ${c.naiveCellsMeasured} cells)` : ''} | ${fmt(c.ratio)}× |`,
      ),
    );
  }
  return lines.join('\n');
}
