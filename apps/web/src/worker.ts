/**
 * The SynPo worker: the whole pipeline runs here, off the page's thread, on navigator.gpu (in a
 * worker too) or on the CPU references. One run at a time; the page cancels a run by
 * terminating the worker.
 */
import { loadModels, onnxBackend, StageTimer, Synpo, weightFreeBackend, PIXELS, type Backend } from '@synpo/core';
import { NoAdapterError, openCompute, type Compute } from '@synpo/gpu';
import type { RunRequest, WorkerMessage } from './protocol.ts';

const post = (m: WorkerMessage, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let compute: Compute | null = null;
let computePath: 'gpu' | 'cpu' | null = null;

async function computeFor(device: 'gpu' | 'cpu'): Promise<Compute> {
  if (compute && computePath === device) return compute;
  compute?.release();
  let notice: string | undefined;
  try {
    compute = await openCompute({ device, notify: (m) => { notice = m; } });
  } catch (error) {
    if (!(error instanceof NoAdapterError)) throw error;
    notice = `${error.message}: running the CPU reference kernels`;
    compute = await openCompute({ device: 'cpu' });
  }
  computePath = device;
  const path = compute.kernels.path;
  post({ type: 'device', path, description: path === 'gpu' ? (compute.adapter?.description || 'WebGPU adapter') : 'CPU reference kernels', ...(notice && { notice }) });
  return compute;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function backendFor(req: RunRequest): Promise<Backend> {
  if (req.backend === 'weight-free') return weightFreeBackend();
  const files = req.models ?? {};
  const { models, report } = await loadModels({
    where: 'the picked model files',
    read: async (name) => {
      const f = files[name];
      if (!f) throw new Error('not among the picked files');
      return new Uint8Array(f);
    },
    sha256,
  }, 'webgpu', () => {});
  if (!models) throw new Error(report.problems.join('\n'));
  return onnxBackend(models);
}

self.onmessage = async (event: MessageEvent<RunRequest>) => {
  const req = event.data;
  try {
    const c = await computeFor(req.device);
    const backend = await backendFor(req);
    const timer = new StageTimer(c.kernels, () => backend);
    const synpo = new Synpo(timer.backend, timer.kernels, { seed: req.seed, points: req.band, batchSize: 4 });
    const t0 = performance.now();
    const support = await synpo.prepareSupport({ image: req.supportImage, mask: req.supportMask });
    const total = req.zs.length;
    for (let i = 0; i < total; i += 4) {
      const zs = req.zs.slice(i, i + 4);
      const batch = req.queries.subarray(i * PIXELS, (i + zs.length) * PIXELS);
      const results = await synpo.segment(support, batch, zs.length, zs.map((z) => ({ seed: z })));
      results.forEach((r, k) => {
        const final = r.final.slice();
        const synmap = r.synmap.slice();
        post({ type: 'slice', z: zs[k]!, final, synmap, positives: r.positives, negatives: r.negatives }, [final.buffer, synmap.buffer]);
      });
      post({ type: 'progress', done: Math.min(total, i + zs.length), total });
    }
    const t = timer.stages(performance.now() - t0);
    post({ type: 'done', slices: total, timings: { encoders: t.encoders, 'post-encoder stages': t.postEncoder, decoder: t.decoder, total: t.total } });
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
