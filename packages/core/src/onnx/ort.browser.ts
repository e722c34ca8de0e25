/** The ONNX Runtime seam, browser half: onnxruntime-web (wasm on the CPU, webgpu where available). */
import * as ort from 'onnxruntime-web';

export { ort };

export function availableProviders(): Set<string> {
  const hasGpu = Boolean((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu);
  return new Set(hasGpu ? ['cpu', 'webgpu'] : ['cpu']);
}

export const runtimeName: string = 'onnxruntime-web';
