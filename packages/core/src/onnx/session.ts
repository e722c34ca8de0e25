/**
 * One ONNX Runtime wrapper for Node and the browser (the `#ort` import condition picks
 * onnxruntime-node or onnxruntime-web, never both in one bundle). The execution provider comes
 * from a frozen table; one the runtime cannot run falls back to the CPU with a notice. Sessions
 * are created once per model file and reused; in the browser they run one at a time.
 */
import { availableProviders, ort, runtimeName } from '#ort';
import { fromHalf, toHalf } from '../half.ts';

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda';

/** What each provider name means to each runtime (transformers.js keeps the same kind of table). */
const PROVIDERS: Readonly<Record<string, Readonly<Record<ExecutionProvider, string>>>> = Object.freeze({
  'onnxruntime-node': Object.freeze({ cpu: 'cpu', webgpu: 'webgpu', cuda: 'cuda' }),
  'onnxruntime-web': Object.freeze({ cpu: 'wasm', webgpu: 'webgpu', cuda: 'wasm' }),
});

export interface TensorValue {
  /** The values on the host, float32 whatever the model's type (empty when on the GPU, see `gpu`). */
  data: Float32Array;
  dims: number[];
  /** The model's own element type for this value (float16 exports: converted at the edges). */
  type?: 'float32' | 'float16';
  /** An output kept on the GPU (onnxruntime-web, webgpu provider): its buffer, and how to let it go or read it. */
  gpu?: { buffer: GPUBuffer; dispose(): void; download(): Promise<Float32Array> };
}

/** The values of `t` on the host, read back from the GPU when they are there. */
export async function hostData(t: TensorValue): Promise<Float32Array> {
  return t.gpu ? t.gpu.download() : t.data;
}

export interface ValueInfo {
  name: string;
  /** 'float32', 'int64', …; undefined when the runtime does not say. */
  type?: string;
  /** Numbers, or strings for symbolic dimensions. */
  shape?: (number | string)[];
}

export interface ModelSession {
  readonly file: string;
  readonly provider: ExecutionProvider;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  run(feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>>;
  release(): Promise<void>;
}

export class ModelError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ModelError';
  }
}

/** Serialises runs in the browser, where onnxruntime-web sessions must not overlap. */
let queue: Promise<unknown> = Promise.resolve();

function metadata(list: readonly unknown[] | undefined, names: readonly string[]): ValueInfo[] {
  return names.map((name, i) => {
    const m = list?.[i] as { isTensor?: boolean; type?: string; shape?: readonly (number | string)[] } | undefined;
    return { name, ...(m?.isTensor && m.type && { type: m.type }), ...(m?.isTensor && m.shape && { shape: [...m.shape] }) };
  });
}

/**
 * Where a graph comes from: a path (Node: ONNX Runtime reads the file and its external data
 * itself, whatever their size), or bytes with the external-data files by name (the browser).
 */
export type ModelInput = { path: string } | { bytes: Uint8Array; externalData?: { path: string; data: Uint8Array }[] };

/**
 * Opens a model with the asked provider, or the CPU (with `notify`) when this runtime cannot
 * run that provider here. float16 inputs and outputs are converted from and to float32 at the
 * edges of `run`.
 */
export async function openModel(
  file: string,
  model: ModelInput,
  provider: ExecutionProvider,
  notify: (m: string) => void,
  options: { gpuOutputs?: readonly string[] } = {},
): Promise<ModelSession> {
  let chosen = provider;
  if (!availableProviders().has(provider)) {
    notify(`synpo: ${runtimeName} has no ${provider} execution provider here; running ${file} on the CPU`);
    chosen = 'cpu';
  }
  const name = PROVIDERS[runtimeName]![chosen];
  // Outputs that stay on the GPU (onnxruntime-web's webgpu provider on the kernels' device).
  const onGpu = chosen === 'webgpu' && runtimeName === 'onnxruntime-web' ? (options.gpuOutputs ?? []) : [];
  let session: ort.InferenceSession;
  try {
    const sessionOptions = {
      executionProviders: [name],
      graphOptimizationLevel: 'all' as const,
      logSeverityLevel: 3 as const,
      ...(onGpu.length && { preferredOutputLocation: Object.fromEntries(onGpu.map((n) => [n, 'gpu-buffer' as const])) }),
      ...('bytes' in model && model.externalData?.length && { externalData: model.externalData }),
    };
    session = 'path' in model ? await ort.InferenceSession.create(model.path, sessionOptions) : await ort.InferenceSession.create(model.bytes, sessionOptions);
  } catch (error) {
    if (chosen !== 'cpu') {
      notify(`synpo: the ${chosen} execution provider failed to load ${file} (${(error as Error).message.split('\n')[0]}); running it on the CPU`);
      return openModel(file, model, 'cpu', notify, options);
    }
    throw new ModelError(file, `ONNX Runtime cannot load this model: ${(error as Error).message.split('\n')[0]}`);
  }
  const inputs = metadata((session as { inputMetadata?: readonly unknown[] }).inputMetadata, session.inputNames);
  const outputs = metadata((session as { outputMetadata?: readonly unknown[] }).outputMetadata, session.outputNames);
  const half = new Set(inputs.filter((v) => v.type === 'float16').map((v) => v.name));
  const serial = runtimeName === 'onnxruntime-web';
  return {
    file,
    provider: chosen,
    inputs,
    outputs,
    async run(feeds) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) {
        const type = half.has(k) ? 'float16' : 'float32';
        if (v.gpu) {
          tensors[k] = (ort.Tensor as unknown as { fromGpuBuffer(b: GPUBuffer, o: { dataType: string; dims: readonly number[] }): ort.Tensor }).fromGpuBuffer(
            v.gpu.buffer,
            { dataType: v.type ?? type, dims: v.dims },
          );
        } else {
          tensors[k] = type === 'float16' ? new ort.Tensor('float16', toHalf(v.data), v.dims) : new ort.Tensor('float32', v.data, v.dims);
        }
      }
      const go = async () => {
        const out = await session.run(tensors);
        const result: Record<string, TensorValue> = {};
        for (const [k, v] of Object.entries(out)) {
          const t = v as ort.Tensor;
          const type = t.type === 'float16' ? 'float16' : 'float32';
          const toFloat = (data: unknown): Float32Array =>
            type === 'float16' ? fromHalf(data as Uint16Array) : data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
          if (t.location === 'gpu-buffer') {
            result[k] = {
              data: new Float32Array(0),
              dims: [...t.dims],
              type,
              gpu: { buffer: t.gpuBuffer as unknown as GPUBuffer, dispose: () => t.dispose(), download: async () => toFloat(await t.getData()) },
            };
          } else {
            result[k] = { data: toFloat(t.data), dims: [...t.dims], type };
          }
        }
        return result;
      };
      if (!serial) return go();
      const next = queue.then(go, go);
      queue = next.catch(() => undefined);
      return next;
    },
    release: () => session.release(),
  };
}
