/** `synpo info`: the adapter, its limits and features, and the path `--device auto` takes. */
import type { Command } from 'commander';
import { NoAdapterError, openGpu, type AdapterSummary } from '@synpo/gpu';
import { deviceOption, type Runner } from '../options.ts';

const KEY_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export function infoCommand(program: Command, run: Runner): void {
  program
    .command('info')
    .description('describe the WebGPU adapter (limits, features) and which path --device auto would take')
    .addOption(deviceOption())
    .option('--json', 'print one JSON object')
    .action(
      run(async (opts: { json?: boolean; device: string }) => {
        let adapter: AdapterSummary | null = null;
        let reason = '';
        if (opts.device !== 'cpu') {
          try {
            const handle = await openGpu();
            adapter = handle.adapter;
            handle.release();
          } catch (error) {
            if (!(error instanceof NoAdapterError)) throw error;
            reason = error.message;
          }
        }
        // auto prefers the CPU references to a software adapter (see openCompute).
        const path = adapter && !adapter.isFallbackAdapter ? 'gpu' : 'cpu';
        if (opts.json) {
          process.stdout.write(`${JSON.stringify({ autoPath: path, adapter, reason: reason || undefined }, null, 2)}\n`);
          return adapter || opts.device !== 'gpu' ? 0 : 3;
        }
        if (!adapter) {
          process.stdout.write(`adapter: none${reason ? ` (${reason})` : ''}\n--device auto runs the CPU reference kernels\n`);
          return opts.device === 'gpu' ? 3 : 0;
        }
        const out = [
          `adapter: ${adapter.description}`,
          `vendor: ${adapter.vendor || '—'}  architecture: ${adapter.architecture || '—'}  device: ${adapter.device || '—'}`,
          `software adapter: ${adapter.isFallbackAdapter ? 'yes (a CPU behind WebGPU: correct, not fast)' : 'no'}`,
          `features: ${adapter.features.join(', ')}`,
          'limits:',
          ...KEY_LIMITS.filter((k) => k in adapter!.limits).map((k) => `  ${k}: ${adapter!.limits[k]}`),
          path === 'gpu'
            ? `--device auto runs the WebGPU kernels on this adapter${adapter.features.includes('timestamp-query') ? ' (kernel timing by timestamp queries)' : ''}`
            : '--device auto runs the CPU reference kernels (faster than a software adapter); --device gpu runs the WebGPU kernels on it',
        ];
        process.stdout.write(`${out.join('\n')}\n`);
        return 0;
      }),
    );
}
