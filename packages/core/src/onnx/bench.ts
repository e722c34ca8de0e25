/** The ONNX backend per encoder and execution provider, for `synpo bench --only onnx`. */
import { median } from '@synpo/gpu';
import { PIXELS } from '../backend.ts';
import { phantomPatient } from '../phantom.ts';
import { onnxBackend } from './backend.ts';
import { loadModels, type ModelSource } from './models.ts';
import type { ExecutionProvider } from './session.ts';

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
    const dino = await time(() => onnxBackend(models).dino.encodeSlices(patient.image.data, slices));
    const samEncoder = await time(() => onnxBackend(models).sam.encodeSlices(patient.image.data, slices));
    const backend = onnxBackend(models);
    await backend.sam.encodeSlices(patient.image.data, slices); // the decoder reads cached embeddings
    const samDecoder = await time(() =>
      backend.decoder.decodeRequests(
        Array.from({ length: slices }, (_, z) => ({
          image: slice(z),
          points: [
            { x: 128, y: 128, label: 1 as const },
            { x: 30, y: 30, label: 0 as const },
          ],
        })),
      ),
    );
    rows.push({ provider, ran: report.models.map((m) => m.provider).join('/'), dino, samEncoder, samDecoder });
  }
  return rows;
}
