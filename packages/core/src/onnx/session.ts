/**
 * One ONNX Runtime wrapper for Node and the browser (the `#ort` import condition picks
 * onnxruntime-node or onnxruntime-web, never both in one bundle). The execution provider comes
 * from a frozen table; one the runtime cannot run falls back to the CPU with a notice. Sessions
 * are created once per model file and reused; in the browser they run one at a time.
 */
import { availableProviders, ort, runtimeName } from '#ort';

export type ExecutionProvider = 'cpu' | 'webgpu' | 'cuda';

/** What each provider name means to each runtime (transformers.js keeps the same kind of table). */
const PROVIDERS: Readonly<Record<string, Readonly<Record<ExecutionProvider, string>>>> = Object.freeze({
  'onnxruntime-node': Object.freeze({ cpu: 'cpu', webgpu: 'webgpu', cuda: 'cuda' }),
  'onnxruntime-web': Object.freeze({ cpu: 'wasm', webgpu: 'webgpu', cuda: 'wasm' }),
});

export interface TensorValue {
  data: Float32Array;
  dims: number[];
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
  constructor(readonly file: string, problem: string) {
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
 * Opens a model with the asked provider, or the CPU (with `notify`) when this runtime cannot
 * run that provider here.
 */
export async function openModel(file: string, bytes: Uint8Array, provider: ExecutionProvider, notify: (m: string) => void): Promise<ModelSession> {
  let chosen = provider;
  if (!availableProviders().has(provider)) {
    notify(`synpo: ${runtimeName} has no ${provider} execution provider here; running ${file} on the CPU`);
    chosen = 'cpu';
  }
  const name = PROVIDERS[runtimeName]![chosen];
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { executionProviders: [name], graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  } catch (error) {
    if (chosen !== 'cpu') {
      notify(`synpo: the ${chosen} execution provider failed to load ${file} (${(error as Error).message.split('\n')[0]}); running it on the CPU`);
      return openModel(file, bytes, 'cpu', notify);
    }
    throw new ModelError(file, `ONNX Runtime cannot load this model: ${(error as Error).message.split('\n')[0]}`);
  }
  const inputs = metadata((session as { inputMetadata?: readonly unknown[] }).inputMetadata, session.inputNames);
  const outputs = metadata((session as { outputMetadata?: readonly unknown[] }).outputMetadata, session.outputNames);
  const serial = runtimeName === 'onnxruntime-web';
  return {
    file,
    provider: chosen,
    inputs,
    outputs,
    async run(feeds) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(feeds)) tensors[k] = new ort.Tensor('float32', v.data, v.dims);
      const go = async () => {
        const out = await session.run(tensors);
        const result: Record<string, TensorValue> = {};
        for (const [k, v] of Object.entries(out)) {
          const t = v as ort.Tensor;
          result[k] = { data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>), dims: [...t.dims] };
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
