/** `synpo bench`: kernel timings, GPU against the CPU references, and the fused-vs-naive ratio. */
import type { Command } from 'commander';
import { cpuKernels, formatBenchReport, runKernelBench } from '@synpo/gpu';
import { createHash } from 'node:crypto';
import {
  DEFAULT_OPTIONS,
  PAPER_SIZES,
  runHalfUploadBench,
  runPipelineBench,
  runPostEncoderBench,
  type HalfUploadReport,
  weightFreeBackend,
  type PipelineBenchRow,
  type PipelinePath,
  type PostEncoderReport,
} from '@synpo/core';
import { runOnnxBench, type OnnxBenchRow } from '@synpo/core/onnx';
import { directorySource } from '@synpo/core/onnx/node';
import { runBatchBench, type BatchBenchReport } from '../batch/bench.ts';
import { propagationLabel, runVolumeBench, type VolumeBenchReport } from '../volume-bench.ts';
import { defaultDataDir } from '../data.ts';
import { computeFor } from '../compute.ts';
import { CliError, EXIT } from '../errors.ts';
import { integer } from '../numbers.ts';
import { guardOutputs, writeFileAtomic } from '../files.ts';
import { onnxFixtures, type OnnxFixtures } from '../fixtures.ts';
import { deviceOption, type Runner } from '../options.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The synthetic model directory, served from memory. */
function memorySource(fixtures: OnnxFixtures) {
  const files = fixtures.syntheticModelDir(sha).files;
  return { where: '(synthetic)', read: async (n: string) => files[n] ?? Promise.reject(new Error('no such file')), sha256: async (b: Uint8Array) => sha(b) };
}

function formatOnnx(rows: OnnxBenchRow[], models: string | undefined): string {
  if (rows.length === 0) return '';
  const f = (v: number) => v.toFixed(1);
  return [
    '',
    `ONNX backend, ms per slice (${models ?? 'synthetic graphs with the real contracts: DINOv2 at 112 px, 16 channels; SAM encoder and decoder at 1024'}):`,
    '',
    '| execution provider (ran on) | DINOv2 encoder | SAM 2.1 encoder | SAM 2.1 decoder |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.provider} (${r.ran}) | ${f(r.dino)} | ${f(r.samEncoder)} | ${f(r.samDecoder)} |`),
    '',
  ].join('\n');
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toPrecision(3)) : '—');

function formatPipeline(rows: PipelineBenchRow[]): string {
  if (rows.length === 0) return '';
  const split = (r: PipelineBenchRow) =>
    r.split === 'gpu-timestamps' ? 'GPU kernel time (timestamps), scaled to the total' : r.split === 'cpu-wall' ? 'wall time' : 'no timestamps on this adapter';
  const lines = [
    '',
    `SynPo per slice (ms), weight-free backend, batch of ${rows[0]!.slices} phantom slices:`,
    '',
    '| path | encoders | post-encoder stages (decoder excluded) | decoder | total (decoder included) | stage split from |',
    '|---|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.path} | ${ms(r.encoders)} | ${ms(r.postEncoder)} | ${ms(r.decoder)} | ${ms(r.total)} | ${split(r)} |`),
  ];
  const gpu = rows.filter((r) => r.transfers);
  if (gpu.length) {
    lines.push(
      '',
      `Host ↔ GPU traffic of the same runs (a slice is ${kb(256 * 256 * 4)} of float32):`,
      '',
      '| path | uploaded per slice | read back per slice | submissions per batch | buffer maps per slice |',
      '|---|---:|---:|---:|---:|',
      ...gpu.map(
        (r) =>
          `| ${r.path} | ${kb(r.transfers!.uploadBytesPerSlice)} | ${kb(r.transfers!.readbackBytesPerSlice)} | ${r.transfers!.submitsPerBatch.toFixed(1)} | ${r.transfers!.mapsPerSlice.toFixed(2)} |`,
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

const STAGES = ['upload', 'confidence', 'points', 'prior', 'refine', 'read'] as const;

function formatPostEncoder(r: PostEncoderReport | null): string {
  if (!r) return '';
  const z = r.sizes;
  const lines = [
    '',
    `Post-encoder stages at the paper's sizes (DINOv2 ${z.dino} + SAM ${z.sam} channels, 64×64 grid, ${z.supportSide ** 2} support cells, 256×256 masks, batch ${z.B}), ms per slice:`,
    '',
    `| path | total | ${STAGES.join(' | ')} | slices per chain | uploaded per slice | read back per slice | submissions per chain |`,
    `|---|---:|${STAGES.map(() => '---:').join('|')}|---:|---:|---:|---:|`,
    ...r.rows.map(
      (row) =>
        `| ${row.label} | ${ms(row.total)} | ${STAGES.map((st) => ms(row.stages[st] ?? 0)).join(' | ')} | ${row.chunk} | ${row.transfers ? kb(row.transfers.uploadBytesPerSlice) : '—'} | ${row.transfers ? kb(row.transfers.readbackBytesPerSlice) : '—'} | ${row.transfers ? row.transfers.submitsPerBatch.toFixed(1) : '—'} |`,
    ),
    '',
    `Stage split: ${r.rows.map((row) => `${row.label}: ${row.split === 'gpu-timestamps' ? 'GPU kernel time from timestamps, scaled to the total' : row.split === 'cpu-wall' ? 'wall time' : 'none'}`).join('; ')}.`,
  ];
  return `${lines.join('\n')}\n`;
}

function formatBatch(r: BatchBenchReport | null): string {
  if (!r) return '';
  const lines = [
    '',
    `Whole cases: CHAOS fold 0 (support 8, queries 1, 2, 3, 5), all four organs in one pass, weight-free backend on the ${r.device === 'gpu' ? 'GPU' : 'CPU references'}:`,
    '',
    '| how | scans | seconds | scans per minute | query slices per second |',
    '|---|---:|---:|---:|---:|',
    ...r.rows.map((x) => `| ${x.how} | ${x.scans} | ${x.seconds.toFixed(1)} | ${x.scansPerMinute.toFixed(1)} | ${x.slicesPerSecond.toFixed(1)} |`),
    '',
    `One pass for all organs: ${r.encodedSlices} query slices encoded for ${r.organSlices} organ-slices (one run per organ would encode ${r.organSlices}: ${(100 * (1 - r.encodedSlices / r.organSlices)).toFixed(0)}% of the encoder work saved).`,
    ...r.rows.flatMap((x) =>
      x.propagation
        ? [`${x.how}: the volumes' ${x.propagation.steps} propagation steps ran in ${x.propagation.chains} chains (one submission each on the GPU).`]
        : [],
    ),
    ...(r.queueSkipped ? [`The queue row is missing: ${r.queueSkipped}.`] : []),
  ];
  return `${lines.join('\n')}\n`;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

function formatVolume(r: VolumeBenchReport | null): string {
  if (!r) return '';
  const gpu = r.rows.filter((x) => x.transfers);
  const lines = [
    '',
    `One whole volume: CHAOS support 8 → query 2, ${r.organs.length} organs in one pass, weight-free backend (seconds: ${r.reps > 1 ? `the median of ${r.reps} runs` : 'one run'} after an untimed warm-up run of each path, its worker threads' included):`,
    '',
    '| path | propagation | seconds | organ-slices per second | organ-slices | slices encoded | segmented on their own | segmented by the pass | steps |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map(
      (x) =>
        `| ${x.path} | ${propagationLabel(x)} | ${x.seconds.toFixed(2)} | ${x.organSlicesPerSecond.toFixed(1)} | ${x.organSlices} | ${x.encodedSlices} | ${x.perSliceSlices} | ${x.propagatedSlices} | ${x.propagationSteps} |`,
    ),
    '',
    `Propagation costs (seconds on / off): ${r.propagationRatio.map((p) => `${p.path}${p.anchorStride !== DEFAULT_OPTIONS.propagation.anchorStride ? ` (anchor stride ${p.anchorStride})` : ''} ${p.ratio.toFixed(2)}×`).join('; ')}.`,
  ];
  if (gpu.length) {
    const t = (x: (typeof gpu)[number]) => x.transfers!;
    lines.push(
      '',
      'Host ↔ GPU traffic per volume (measured / bound):',
      '',
      '| propagation | uploaded | bound (1.1 × the voxels as uploaded + per-row inputs) | read back | bound (final masks as bits + points, areas, solver flags) | submissions | bound (2 × longest range + 10) | buffer maps |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...gpu.map(
        (x) =>
          `| ${propagationLabel(x)} | ${mb(t(x).uploadBytes)} | ${mb(t(x).uploadLimit)} | ${mb(t(x).readbackBytes)} | ${mb(t(x).readbackLimit)} | ${t(x).submits} | ${t(x).submitsLimit} | ${t(x).maps} |`,
      ),
    );
  }
  if (r.gpuVsCpuDice)
    lines.push('', `GPU path against the CPU references, 3-D Dice per organ: ${r.gpuVsCpuDice.map((d) => `${d.organ} ${d.dice.toFixed(4)}`).join(', ')}.`);
  if (r.threadsIdentical !== null) lines.push('', `Threaded CPU labels ${r.threadsIdentical ? 'equal' : 'DIFFER FROM'} the one-thread labels byte for byte.`);
  return `${lines.join('\n')}\n`;
}

function formatHalf(r: HalfUploadReport | null): string {
  if (!r) return '';
  const lines = [
    '',
    `Features as f16 on upload (DINOv2 + SAM, ${r.values} values a slice; ${(r.bytesSaved / 2 ** 20).toFixed(1)} MiB fewer to move):`,
    '',
    '| host conversion (1 thread) | upload f32 | upload f16 | break-even host→GPU rate | largest fused-confidence error |',
    '|---:|---:|---:|---:|---:|',
    `| ${ms(r.convertMs)} ms | ${r.uploadF32Ms === null ? '—' : `${ms(r.uploadF32Ms)} ms`} | ${r.uploadF16Ms === null ? '—' : `${ms(r.uploadF16Ms)} ms`} | ${r.breakEvenGBs.toFixed(2)} GB/s | ${r.maxSynergyError.toExponential(1)} (${((100 * r.maxSynergyError) / r.synergyRange).toPrecision(2)}% of the map's range) |`,
    '',
    `f16 pays only where the host→GPU rate is below ${r.breakEvenGBs.toFixed(2)} GB/s (converting on the host costs more than moving the bytes it saves above that).`,
  ];
  return `${lines.join('\n')}\n`;
}

export function benchCommand(program: Command, run: Runner): void {
  program
    .command('bench')
    .description(
      "benchmark every kernel (GPU vs CPU reference), the fused vs naive confidence, the pipeline per slice with its host↔GPU traffic, the post-encoder stages at the paper's sizes, f16 features on upload, and the ONNX backend",
    )
    .addOption(deviceOption().default('auto', 'auto: any WebGPU adapter, software ones included, else CPU only'))
    .option('--json', 'print the report as JSON instead of tables')
    .option('--out <file>', 'also write the JSON report to this file')
    .option('--quick', 'smaller batches and fewer ratio cases')
    .option('--reps <n>', 'timed runs per case (median reported)', integer('--reps', { min: 1, max: 1000 }))
    .option(
      '--only <parts>',
      'comma-separated parts to run: kernel names (e.g. confidence,topk), pipeline, postencoder, f16, onnx; and batch (whole CHAOS cases) and volume (one whole CHAOS volume, propagation on and off, GPU and CPU, with its host↔GPU traffic), not in the default run',
    )
    .option('--data <dir>', 'CHAOS folder for --only batch and volume (default: shared/data/chaos-t2 beside the repository)')
    .option('--models <dir>', 'time this ONNX model directory instead of the synthetic graphs')
    .action(
      run(
        async (opts: {
          device: 'auto' | 'gpu' | 'cpu';
          json?: boolean;
          out?: string;
          quick?: boolean;
          reps?: number;
          only?: string;
          models?: string;
          data?: string;
        }) => {
          if (opts.out) await guardOutputs([], [{ flag: '--out', path: opts.out, kind: 'file' }]);
          // The benchmark compares paths: under auto it takes any adapter, software ones included.
          const compute = await computeFor(opts.device === 'auto' ? 'gpu' : opts.device).catch((error: unknown) => {
            if (opts.device === 'auto' && error instanceof CliError && error.exitCode === EXIT.noGpu) return computeFor('cpu');
            throw error;
          });
          try {
            const only = opts.only?.split(',').map((s) => s.trim());
            const kernelsOnly = only?.filter((o) => !['pipeline', 'onnx', 'postencoder', 'f16', 'batch', 'volume'].includes(o));
            const report = await runKernelBench({
              device: compute.runtime?.device ?? null,
              deviceName: compute.adapter?.description ?? 'CPU reference kernels only',
              ...(opts.reps !== undefined && { reps: opts.reps }),
              ...(opts.quick && { quick: true }),
              ...(kernelsOnly && { only: kernelsOnly.length ? kernelsOnly : ['(none)'] }),
              progress: (m) => process.stderr.write(`${m}\n`),
            });
            let pipeline: PipelineBenchRow[] = [];
            if (!only || only.includes('pipeline')) {
              process.stderr.write('bench pipeline (phantom slices, weight-free backend)\n');
              const paths: PipelinePath[] = [{ name: 'CPU references', kernels: cpuKernels(), runtime: null }];
              if (compute.runtime)
                paths.unshift({ name: `WebGPU (${compute.adapter?.description ?? 'device'})`, kernels: compute.kernels, runtime: compute.runtime });
              pipeline = await runPipelineBench(paths, () => weightFreeBackend(), opts.quick ? 4 : 8, opts.reps ?? (opts.quick ? 1 : 3));
            }
            let postEncoder: PostEncoderReport | null = null;
            if (!only || only.includes('postencoder')) {
              const sizes = opts.quick ? { ...PAPER_SIZES, B: 4 } : PAPER_SIZES;
              postEncoder = await runPostEncoderBench(
                compute.runtime ? { kernels: compute.kernels, runtime: compute.runtime } : null,
                sizes,
                opts.reps ?? (opts.quick ? 1 : 3),
                (m) => process.stderr.write(`${m}\n`),
              );
            }
            let half: HalfUploadReport | null = null;
            if (!only || only.includes('f16')) {
              process.stderr.write('bench f16 features on upload\n');
              half = await runHalfUploadBench(compute.runtime, PAPER_SIZES, opts.reps ?? (opts.quick ? 1 : 3));
            }
            let batch: BatchBenchReport | null = null;
            if (only?.includes('batch')) {
              const dataDir = opts.data ?? defaultDataDir('chaos-t2');
              if (!dataDir) throw new CliError('bench batch needs the CHAOS folder: pass --data DIR', EXIT.usage);
              // Whole cases run as users run them: --device auto keeps its meaning (the CPU on a software adapter).
              batch = await runBatchBench(
                dataDir,
                { device: opts.device, backend: 'weight-free', ep: 'cpu', cacheGb: 4, seed: 0, band: 'chaos-t2', intensity: 'auto', labels: 'chaos-t2' },
                (m) => process.stderr.write(`${m}\n`),
              );
            }
            let volume: VolumeBenchReport | null = null;
            if (only?.includes('volume')) {
              const dataDir = opts.data ?? defaultDataDir('chaos-t2');
              if (!dataDir) throw new CliError('bench volume needs the CHAOS folder: pass --data DIR', EXIT.usage);
              volume = await runVolumeBench(dataDir, compute.runtime ? compute.kernels : null, (m) => process.stderr.write(`${m}\n`), opts.reps ?? 1);
            }
            let onnx: OnnxBenchRow[] = [];
            if (!only || only.includes('onnx')) {
              const fixtures = opts.models ? null : await onnxFixtures();
              if (opts.models || fixtures) {
                process.stderr.write(`bench onnx (${opts.models ?? 'synthetic graphs with the DINOv2 / SAM 2.1 contracts'})\n`);
                const source = opts.models ? directorySource(opts.models) : memorySource(fixtures!);
                onnx = await runOnnxBench(source, ['cpu', 'webgpu'], opts.quick ? 2 : 4, opts.quick ? 1 : 3);
              } else if (only) {
                throw new CliError('bench onnx: pass --models DIR (the synthetic graphs of @synpo/onnx-fixtures are not installed)', EXIT.usage);
              } else {
                process.stderr.write('bench onnx: skipped (no --models DIR, and @synpo/onnx-fixtures is not installed)\n');
              }
            }
            const json = JSON.stringify({ ...report, pipeline, postEncoder, halfUpload: half, batch, volume, onnx }, null, 2);
            if (opts.out) await writeFileAtomic(opts.out, `${json}\n`);
            const tables = report.kernels.length || report.confidenceRatio.length ? `${formatBenchReport(report)}\n` : '';
            process.stdout.write(
              opts.json
                ? `${json}\n`
                : `${tables}${formatPipeline(pipeline)}${formatPostEncoder(postEncoder)}${formatHalf(half)}${formatBatch(batch)}${formatVolume(volume)}${formatOnnx(onnx, opts.models)}`,
            );
            return 0;
          } finally {
            compute.release();
          }
        },
      ),
    );
}
