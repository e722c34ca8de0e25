/** The model backend a command asks for: the built-in weight-free one, or ONNX exports in a directory. */
import { Option } from 'commander';
import { DEFAULT_CACHE_BYTES, WEIGHT_FREE_DEFAULTS, weightFreeBackend, type Backend, type SegmentCaseRequest, type WeightFreeOptions } from '@synpo/core';
import { segmentOrgansOnThreads } from '@synpo/core/node';
import { loadModels, onnxBackend, type CheckReport, type ExecutionProvider } from '@synpo/core/onnx';
import { directorySource } from '@synpo/core/onnx/node';
import { CliError, EXIT } from './errors.ts';
import { decimal, jsonOverrides } from './numbers.ts';

export interface BackendOpts {
  backend: 'weight-free' | 'onnx';
  /** Overrides of the weight-free backend's options (tuning runs). */
  weightFree?: Partial<WeightFreeOptions>;
  models?: string;
  ep: ExecutionProvider;
  /** GiB of encodings kept for reuse, all caches together. */
  cacheGb: number;
}

/** Bytes of the caches: half for SynPo's encoding cache, half for the ONNX encoders' own. */
export const cacheBytes = (opts: BackendOpts) => (opts.cacheGb * 2 ** 30) / 2;

export function backendOptions(): Option[] {
  return [
    new Option('--backend <name>', 'models: weight-free (built in, no files) or onnx (DINOv2 + SAM 2.1 exports, see --models)')
      .choices(['weight-free', 'onnx'])
      .default('weight-free'),
    new Option('--models <dir>', 'model directory with manifest.json (for --backend onnx; see `synpo models --help`)'),
    new Option('--ep <provider>', 'ONNX Runtime execution provider (falls back to cpu with a notice)').choices(['cpu', 'webgpu', 'cuda']).default('cpu'),
    new Option('--weight-free <json>', 'override weight-free backend options, e.g. \'{"gamma": 0.1}\' (tuning; see scripts/tune)').argParser(
      jsonOverrides('--weight-free', WEIGHT_FREE_DEFAULTS),
    ),
    new Option('--cache-gb <n>', 'GiB of slice encodings kept for reuse (all caches together; least recently used out first)')
      .argParser(decimal('--cache-gb', { min: 0, max: 1024 }))
      .default(DEFAULT_CACHE_BYTES / 2 ** 30),
  ];
}

export function formatCheck(report: CheckReport): string {
  const lines = report.models.map(
    (m) =>
      `  ${m.role}: ${m.file} on ${m.provider}; inputs ${m.inputs.map((v) => `${v.name}[${v.shape?.join(',') ?? '?'}]`).join(' ')}; outputs ${m.outputs.map((v) => `${v.name}[${v.shape?.join(',') ?? '?'}]`).join(' ')}`,
  );
  return [...lines, ...(report.ok ? ['all models load and match the manifest'] : report.problems.map((p) => `problem: ${p}`))].join('\n');
}

/**
 * Opens the backend; ONNX models are loaded and checked before any volume is read. `providers`
 * says where each ONNX model actually runs (a provider ONNX Runtime lacks falls back to cpu).
 */
export async function backendFor(opts: BackendOpts): Promise<Backend & { providers?: Record<string, string> }> {
  if (opts.backend === 'weight-free') return weightFreeBackend(opts.weightFree);
  if (!opts.models) throw new CliError('--backend onnx needs --models DIR (a directory with manifest.json; `synpo models --help` explains)', EXIT.usage);
  const { models, report } = await loadModels(directorySource(opts.models), opts.ep, (m) => process.stderr.write(`${m}\n`));
  if (!models)
    throw new CliError(
      `the models in ${opts.models} cannot be used:\n${report.problems.map((p) => `  - ${p}`).join('\n')}\n(run \`synpo models check ${opts.models}\` for the whole report)`,
    );
  return Object.assign(onnxBackend(models, { cacheBytes: cacheBytes(opts) }), {
    providers: Object.fromEntries(report.models.map((m) => [m.role, m.provider])),
  });
}

/**
 * The threads a case's organs are spread over (segmentOrgansOnThreads: the output is that of
 * one): on the CPU path (`path`: the kernels' path, or --device before they open) with the
 * weight-free backend, whose kernels run in the threads, `wanted` but at most one an organ; one
 * elsewhere. With more than one, `segment` is segmentCase's hook that spreads them.
 */
export function organThreads(
  path: string,
  opts: { backend: string; weightFree?: Partial<WeightFreeOptions> },
  wanted: number,
  organs: number,
): { threads: number; segment?: SegmentCaseRequest['segment'] } {
  const threads = path === 'cpu' && opts.backend === 'weight-free' ? Math.min(wanted, organs) : 1;
  if (threads <= 1) return { threads: 1 };
  return {
    threads,
    segment: ({ synpo, ...request }) =>
      segmentOrgansOnThreads({ ...request, threads, options: synpo.options, ...(opts.weightFree && { weightFree: opts.weightFree }) }),
  };
}
