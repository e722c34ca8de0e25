/** `synpo bench`: kernel timings, GPU against the CPU references, and the fused-vs-naive ratio. */
import type { Command } from 'commander';
import { cpuKernels, formatBenchReport, runKernelBench, type Kernels } from '@synpo/gpu';
import { runPipelineBench, weightFreeBackend, type PipelineBenchRow } from '@synpo/core';
import { computeFor } from '../compute.ts';
import { writeFileAtomic } from '../files.ts';
import { deviceOption, type Runner } from '../main.ts';

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
    .addOption(deviceOption())
    .option('--json', 'print the report as JSON instead of tables')
    .option('--out <file>', 'also write the JSON report to this file')
    .option('--quick', 'smaller batches and fewer ratio cases')
    .option('--reps <n>', 'timed runs per case (median reported)', (v) => Number.parseInt(v, 10))
    .option('--only <kernels>', 'comma-separated kernel names to run (e.g. confidence,topk)')
    .action(run(async (opts: { device: 'auto' | 'gpu' | 'cpu'; json?: boolean; out?: string; quick?: boolean; reps?: number; only?: string }) => {
      const compute = await computeFor(opts.device);
      try {
        const only = opts.only?.split(',').map((s) => s.trim());
        const kernelsOnly = only?.filter((o) => o !== 'pipeline');
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
        const json = JSON.stringify({ ...report, pipeline }, null, 2);
        if (opts.out) await writeFileAtomic(opts.out, `${json}\n`);
        const tables = report.kernels.length || report.confidenceRatio.length ? `${formatBenchReport(report)}\n` : '';
        process.stdout.write(opts.json ? `${json}\n` : `${tables}${formatPipeline(pipeline)}`);
        return 0;
      } finally {
        compute.release();
      }
    }));
}
