/**
 * The SynPo worker: the whole pipeline runs here, off the page's thread, on navigator.gpu (in a
 * worker too) or on the CPU references. One run at a time; the page cancels a run by
 * terminating the worker.
 */
import { segmentOrgans, StageTimer, Synpo, weightFreeBackend, withAtlases, PIXELS, type Backend, type HostEncoding } from '@synpo/core';
import { loadModels, onnxBackend } from '@synpo/core/onnx';
import { NoAdapterError, openCompute, type Compute } from '@synpo/gpu';
import type { Device, EncodingsMessage, RunRequest, VolumeRequest, WorkerMessage } from './protocol.ts';

const post = (m: WorkerMessage, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

let compute: Compute | null = null;
let computePath: Device | null = null;

async function computeFor(device: Device): Promise<Compute> {
  if (compute && computePath === device) return compute;
  compute?.release();
  let notice: string | undefined;
  try {
    compute = await openCompute({
      device,
      notify: (m) => {
        notice = m;
      },
      hints: { gpu: 'the "GPU" device choice', cpu: 'the "CPU references" choice' },
    });
  } catch (error) {
    if (!(error instanceof NoAdapterError)) throw error;
    notice = `${error.message}: running the CPU reference kernels`;
    compute = await openCompute({ device: 'cpu' });
  }
  computePath = device;
  const path = compute.kernels.path;
  post({
    type: 'device',
    path,
    description: path === 'gpu' ? compute.adapter?.description || 'WebGPU adapter' : 'CPU reference kernels',
    ...(notice && { notice }),
  });
  return compute;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The backend. On the GPU path the ONNX models keep their encoders' outputs on the webgpu
 * provider's device, and the kernels then run on that device too (see `computeOn`).
 */
async function backendFor(req: RunRequest | VolumeRequest, gpu: boolean): Promise<{ backend: Backend; providers: string; device?: GPUDevice }> {
  if (req.backend === 'weight-free') return { backend: weightFreeBackend(), providers: '' };
  const files = req.models ?? {};
  const { models, report } = await loadModels(
    {
      where: 'the picked model files',
      read: async (name) => {
        const f = files[name];
        if (!f) throw new Error('not among the picked files');
        return new Uint8Array(f);
      },
      sha256,
    },
    'webgpu',
    () => {},
    { gpuOutputs: gpu },
  );
  if (!models) throw new Error(report.problems.join('\n'));
  const providers = `${report.models.map((m) => m.provider).join('/')}${models.device ? ", outputs on the kernels' GPU device" : ''}`;
  return { backend: onnxBackend(models), providers, ...(models.device && { device: models.device }) };
}

/** Kernels on a device made elsewhere (onnxruntime-web's), kept for the next run on it. */
let shared: { device: GPUDevice; compute: Compute } | null = null;
async function computeOn(device: GPUDevice): Promise<Compute> {
  if (shared?.device !== device) shared = { device, compute: await openCompute({ device }) };
  return shared.compute;
}

/** The whole volume, every picked organ in one pass, as `synpo segment --organs` runs it. */
async function segmentWholeVolume(req: VolumeRequest): Promise<void> {
  const path = await computeFor(req.device);
  const { backend, device } = await backendFor(req, path.kernels.path === 'gpu');
  const c = device ? await computeOn(device) : path;
  const synpo = new Synpo(backend, c.kernels, { seed: req.seed, points: req.band });
  const t0 = performance.now();
  const request = {
    support: req.support,
    query: req.query,
    organs: req.organs,
    ...(req.supportSlice !== undefined && { supportSlice: req.supportSlice }),
  };
  // A split run on the CPU: this worker's share of the slices encoded for all, its atlases made
  // while the others encode theirs, then the page's encodings of the rest it needs.
  let shared: { organs: ReturnType<typeof withAtlases>; encodings: Map<number, HostEncoding> } | null = null;
  if (req.encode) {
    const own = await synpo.encodeToHost(req.query, req.encode);
    const mine = new Map(req.encode.map((z, i) => [z, own[i]!]));
    const others = new Promise<Map<number, HostEncoding>>((resolve) => (awaitingEncodings = resolve));
    post({ type: 'encoded', encodings: mine });
    const organs = withAtlases(request, synpo.options.atlas.growth);
    shared = { organs, encodings: new Map([...mine, ...(await others)]) };
  }
  const result = await segmentOrgans({
    synpo,
    ...request,
    ...(shared && { organs: shared.organs, encodings: shared.encodings }),
    ...(req.part && { keepConfidence: true }),
    progress: (done, total, label) => post({ type: 'progress', done, total, label }),
  });
  const labels = result.labels;
  const parts = req.part ? result.organs.map((o) => ({ value: o.value, masks: o.masks, confidence: o.confidence! })) : undefined;
  post(
    {
      type: 'volume',
      labels,
      organs: result.organs.map((o) => ({ name: o.name, value: o.value, range: o.range, supportSlices: o.supportSlices })),
      range: result.range,
      organSlices: result.organSlices,
      propagatedSlices: result.propagatedSlices,
      seconds: (performance.now() - t0) / 1000,
      ...(parts && { parts }),
    },
    [labels.buffer, ...(parts ?? []).map((p) => p.masks.buffer)],
  );
}

/** A split run waiting for the other workers' encodings (EncodingsMessage). */
let awaitingEncodings: ((encodings: Map<number, HostEncoding>) => void) | null = null;

self.onmessage = async (event: MessageEvent<RunRequest | VolumeRequest | EncodingsMessage>) => {
  if (event.data.type === 'encodings') {
    awaitingEncodings?.(event.data.encodings);
    awaitingEncodings = null;
    return;
  }
  if (event.data.type === 'volume') {
    try {
      await segmentWholeVolume(event.data);
    } catch (error) {
      post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
    }
    return;
  }
  const req = event.data;
  try {
    const path = await computeFor(req.device);
    const { backend, providers, device } = await backendFor(req, path.kernels.path === 'gpu');
    const c = device ? await computeOn(device) : path;
    const before = c.runtime?.snapshotTransfers();
    const timer = new StageTimer(c.kernels);
    const synpo = new Synpo(backend, timer.kernels, { seed: req.seed, points: req.band, batchSize: 4 });
    const t0 = performance.now();
    const support = await synpo.prepareSupport({ image: req.supportImage, mask: req.supportMask });
    const total = req.zs.length;
    await synpo.segment(
      support,
      req.queries.subarray(0, total * PIXELS),
      total,
      req.zs.map((z) => ({ seed: z })),
      {
        // The heat map is the one intermediate the page shows.
        detail: ['synmap'],
        onBatch: (first, results) => {
          results.forEach((r, k) => {
            const final = r.final;
            const synmap = r.synmap!;
            post({ type: 'slice', z: req.zs[first + k]!, final, synmap, positives: r.positives, negatives: r.negatives }, [final.buffer, synmap.buffer]);
          });
          post({ type: 'progress', done: first + results.length, total });
        },
      },
    );
    await synpo.releaseSupport(support);
    const ms = performance.now() - t0;
    // On the CPU the stages run one after another and are timed; on the GPU they overlap, and only the total is meaningful.
    const t = timer.stages(ms);
    const after = c.runtime?.snapshotTransfers();
    const transfers =
      before && after
        ? {
            uploadBytes: after.uploadBytes - before.uploadBytes,
            readbackBytes: after.readbackBytes - before.readbackBytes,
            submits: after.submits - before.submits,
          }
        : undefined;
    post({
      type: 'done',
      slices: total,
      timings: c.kernels.path === 'cpu' ? { encoders: t.encoders, 'post-encoder stages': t.postEncoder, decoder: t.decoder, total: t.total } : { total: ms },
      ...(transfers && { transfers }),
      ...(providers && { providers }),
    });
  } catch (error) {
    post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  }
};
