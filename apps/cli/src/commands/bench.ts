/** `synpo bench`: kernel timings, GPU against the CPU references, and the fused-vs-naive ratio. */
import type { Command } from 'commander';
import { formatBenchReport, runKernelBench } from '@synpo/gpu';
import { computeFor } from '../compute.ts';
import { writeFileAtomic } from '../files.ts';
import { deviceOption, type Runner } from '../main.ts';

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
        const report = await runKernelBench({
          device: compute.runtime?.device ?? null,
          deviceName: compute.adapter?.description ?? 'CPU reference kernels only',
          ...(opts.reps !== undefined && { reps: opts.reps }),
          ...(opts.quick && { quick: true }),
          ...(opts.only && { only: opts.only.split(',').map((s) => s.trim()) }),
          progress: (m) => process.stderr.write(`${m}\n`),
        });
        const json = JSON.stringify(report, null, 2);
        if (opts.out) await writeFileAtomic(opts.out, `${json}\n`);
        process.stdout.write(opts.json ? `${json}\n` : `${formatBenchReport(report)}\n`);
        return 0;
      } finally {
        compute.release();
      }
    }));
}
