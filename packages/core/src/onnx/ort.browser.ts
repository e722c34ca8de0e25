/** The ONNX Runtime seam, browser half: onnxruntime-web (wasm on the CPU, webgpu where available). */
import * as ort from 'onnxruntime-web';

export { ort };

export function availableProviders(): Set<string> {
  const hasGpu = Boolean((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu);
  return new Set(hasGpu ? ['cpu', 'webgpu'] : ['cpu']);
}

export const runtimeName: string = 'onnxruntime-web';

/**
 * The GPUDevice onnxruntime-web's webgpu provider runs on, once a webgpu session exists (its
 * JSEP backend always makes its own device from the adapter). Running the kernels on this device
 * lets the encoders' outputs kept on the GPU feed them without a copy.
 */
export async function providerDevice(): Promise<GPUDevice | null> {
  try {
    return (await ort.env.webgpu.device) as GPUDevice;
  } catch {
    return null;
  }
}
