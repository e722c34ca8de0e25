/** `synpo bench`: kernel timings, GPU against the CPU references, and the fused-vs-naive ratio. */
import type { Command } from 'commander';
import { cpuKernels, formatBenchReport, runKernelBench, type Kernels } from '@synpo/gpu';
import { createHash } from 'node:crypto';
import { runOnnxBench, runPipelineBench, syntheticModelDir, weightFreeBackend, type OnnxBenchRow, type PipelineBenchRow } from '@synpo/core';
import { directorySource } from '../backend.ts';
import { computeFor } from '../compute.ts';
import { CliError, EXIT } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { deviceOption, type Runner } from '../main.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The synthetic model directory, served from memory. */
function memorySource() {
  const files = syntheticModelDir(sha).files;
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

function formatPipeline(rows: PipelineBenchRow[]): string {
  if (rows.length === 0) return '';
  const f = (v: number) => v.toFixed(1);
  return [
    '',
    `SynPo per slice (ms), weight-free backend, batch of ${rows[0]!.slices} phantom slices:`,
    '',
    '| path | encoders | post-encoder stages (decoder excluded) | decoder | total (decoder included) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.path} | ${f(r.encoders)} | ${f(r.postEncoder)} | ${f(r.decoder)} | ${f(r.total)} |`),
    '',
  ].join('\n');
}

export function benchCommand(program: Command, run: Runner): void {
  program
    .command('bench')
    .description('benchmark every kernel (GPU vs CPU reference) and the fused vs naive confidence')
    .addOption(deviceOption().default('auto', 'auto: any WebGPU adapter, software ones included, else CPU only'))
    .option('--json', 'print the report as JSON instead of tables')
    .option('--out <file>', 'also write the JSON report to this file')
    .option('--quick', 'smaller batches and fewer ratio cases')
    .option('--reps <n>', 'timed runs per case (median reported)', (v) => Number.parseInt(v, 10))
    .option('--only <parts>', 'comma-separated parts to run: kernel names (e.g. confidence,topk), pipeline, onnx')
    .option('--models <dir>', 'time this ONNX model directory instead of the synthetic graphs')
    .action(run(async (opts: { device: 'auto' | 'gpu' | 'cpu'; json?: boolean; out?: string; quick?: boolean; reps?: number; only?: string; models?: string }) => {
      // The benchmark compares paths: under auto it takes any adapter, software ones included.
      const compute = await computeFor(opts.device === 'auto' ? 'gpu' : opts.device).catch((error: unknown) => {
        if (opts.device === 'auto' && error instanceof CliError && error.exitCode === EXIT.noGpu) return computeFor('cpu');
        throw error;
      });
      try {
        const only = opts.only?.split(',').map((s) => s.trim());
        const kernelsOnly = only?.filter((o) => o !== 'pipeline' && o !== 'onnx');
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
          const paths: { name: string; kernels: Kernels }[] = [{ name: 'CPU references', kernels: cpuKernels() }];
          if (compute.runtime) paths.unshift({ name: `WebGPU (${compute.adapter?.description ?? 'device'})`, kernels: compute.kernels });
          pipeline = await runPipelineBench(paths, () => weightFreeBackend(), opts.quick ? 4 : 8);
        }
        let onnx: OnnxBenchRow[] = [];
        if (!only || only.includes('onnx')) {
          process.stderr.write(`bench onnx (${opts.models ?? 'synthetic graphs with the DINOv2 / SAM 2.1 contracts'})\n`);
          const source = opts.models ? directorySource(opts.models) : memorySource();
          onnx = await runOnnxBench(source, ['cpu', 'webgpu'], opts.quick ? 2 : 4, opts.quick ? 1 : 3);
        }
        const json = JSON.stringify({ ...report, pipeline, onnx }, null, 2);
        if (opts.out) await writeFileAtomic(opts.out, `${json}\n`);
        const tables = report.kernels.length || report.confidenceRatio.length ? `${formatBenchReport(report)}\n` : '';
        process.stdout.write(opts.json ? `${json}\n` : `${tables}${formatPipeline(pipeline)}${formatOnnx(onnx, opts.models)}`);
        return 0;
      } finally {
        compute.release();
      }
    }));
}
