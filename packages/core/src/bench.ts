/**
 * Per-slice time of SynPo's stages on one compute path, for `synpo bench`: the encoders, the
 * post-encoder stages (CMSM's confidences and fusion, PSM, NRM's morphology and components),
 * and the decoder, on a batch of phantom slices. Timing wraps each kernel call (wall time on the
 * host, uploads and readbacks included), so GPU and CPU paths are measured the same way.
 */
import { cpuKernels, median, wrapKernels, type Kernels } from '@synpo/gpu';
import { onnxBackend } from './onnx/backend.ts';
import { loadModels, type ModelSource } from './onnx/models.ts';
import type { ExecutionProvider } from './onnx/session.ts';
import { PIXELS, type Backend } from './backend.ts';
import { phantomPatient } from './phantom.ts';
import { Synpo } from './synpo.ts';

export interface PipelineBenchRow {
  path: string;
  slices: number;
  /** ms per slice */
  encoders: number;
  postEncoder: number;
  decoder: number;
  total: number;
}

/** Wraps every kernel method to add its wall time to `into`. */
export function timedKernels(kernels: Kernels, into: Map<string, number>): Kernels {
  return wrapKernels(() => kernels.path, async (name, run) => {
    const t0 = performance.now();
    try {
      return await run(kernels);
    } finally {
      into.set(name, (into.get(name) ?? 0) + performance.now() - t0);
    }
  });
}

export interface StageTimes {
  encoders: number;
  /** CMSM, PSM and NRM's morphology and components: the total less encoders and decoder. */
  postEncoder: number;
  decoder: number;
  total: number;
}

/**
 * Splits SynPo's time into its stages: wraps the kernels (the encoders are the `appearance`
 * kernel) and the backend's decoder, and apportions a measured total.
 */
export class StageTimer {
  readonly kernels: Kernels;
  readonly backend: Backend;
  private readonly times = new Map<string, number>();
  private decoderMs = 0;

  constructor(kernels: Kernels, backend: (k: Kernels) => Backend) {
    this.kernels = timedKernels(kernels, this.times);
    const b = backend(this.kernels);
    const decoder = b.decoder;
    this.backend = {
      ...b,
      decoder: {
        name: decoder.name,
        decode: async (reqs, k) => {
          const t0 = performance.now();
          try {
            return await decoder.decode(reqs, k);
          } finally {
            this.decoderMs += performance.now() - t0;
          }
        },
      },
    };
  }

  reset(): void {
    this.times.clear();
    this.decoderMs = 0;
  }

  /** The stages of a run that took `totalMs` since the last reset. */
  stages(totalMs: number): StageTimes {
    const encoders = this.times.get('appearance') ?? 0;
    return { encoders, postEncoder: totalMs - encoders - this.decoderMs, decoder: this.decoderMs, total: totalMs };
  }
}

export async function runPipelineBench(paths: { name: string; kernels: Kernels }[], backend: (k: Kernels) => Backend, slices = 8): Promise<PipelineBenchRow[]> {
  const support = phantomPatient(101);
  const query = phantomPatient(102);
  const z0 = Math.floor(support.image.dims[2] / 2);
  const mask = Uint8Array.from(support.labels.data.subarray(z0 * PIXELS, (z0 + 1) * PIXELS), (v) => (v === 1 ? 1 : 0));
  const start = Math.max(0, z0 - Math.floor(slices / 2));
  const batch = query.image.data.slice(start * PIXELS, (start + slices) * PIXELS);
  const rows: PipelineBenchRow[] = [];
  for (const { name, kernels } of paths) {
    const timer = new StageTimer(kernels, backend);
    const synpo = new Synpo(timer.backend, timer.kernels, { batchSize: slices });
    const enc = await synpo.prepareSupport({ image: support.image.data.subarray(z0 * PIXELS, (z0 + 1) * PIXELS), mask });
    await synpo.segment(enc, batch, slices); // warm-up: pipelines compile, pools fill
    timer.reset();
    const t0 = performance.now();
    await synpo.segment(enc, batch, slices);
    const t = timer.stages(performance.now() - t0);
    rows.push({ path: name, slices, encoders: t.encoders / slices, decoder: t.decoder / slices, postEncoder: t.postEncoder / slices, total: t.total / slices });
  }
  return rows;
}

export interface OnnxBenchRow {
  provider: string;
  /** What actually ran (a provider the runtime lacks falls back to cpu). */
  ran: string;
  /** ms per slice */
  dino: number;
  samEncoder: number;
  samDecoder: number;
}

/** Per encoder and execution provider, ms per slice for a model directory (median of `reps`). */
export async function runOnnxBench(source: ModelSource, providers: ExecutionProvider[], slices = 4, reps = 3): Promise<OnnxBenchRow[]> {
  const patient = phantomPatient(103, { slices });
  const rows: OnnxBenchRow[] = [];
  for (const provider of providers) {
    const { models, report } = await loadModels(source, provider, () => {});
    if (!models) throw new Error(report.problems.join('; '));
    const kernels = cpuKernels();
    const time = async (f: (k: number) => Promise<unknown>) => {
      const runs: number[] = [];
      for (let r = 0; r <= reps; r++) {
        // A fresh backend each run: its content-hash cache must not turn timings into lookups.
        const t0 = performance.now();
        await f(r);
        if (r > 0) runs.push((performance.now() - t0) / slices);
      }
      return median(runs);
    };
    const slice = (z: number) => patient.image.data.subarray(z * PIXELS, (z + 1) * PIXELS);
    const dino = await time(() => onnxBackend(models).dino.encode(patient.image.data, slices, kernels));
    const samEncoder = await time(() => onnxBackend(models).sam.encode(patient.image.data, slices, kernels));
    const backend = onnxBackend(models);
    await backend.sam.encode(patient.image.data, slices, kernels); // the decoder reads cached embeddings
    const samDecoder = await time(() => backend.decoder.decode(Array.from({ length: slices }, (_, z) => ({ image: slice(z), points: [{ x: 128, y: 128, label: 1 as const }, { x: 30, y: 30, label: 0 as const }] })), kernels));
    rows.push({ provider, ran: report.models.map((m) => m.provider).join('/'), dino, samEncoder, samDecoder });
  }
  return rows;
}
