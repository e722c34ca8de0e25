/** The ONNX Runtime seam, Node half: onnxruntime-node (cpu, webgpu bundled; cuda when installed). */
import * as ort from 'onnxruntime-node';

export { ort };

/** Execution providers this build of onnxruntime-node can run. */
export function availableProviders(): Set<string> {
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends?.() ?? [];
  return new Set(list.filter((b) => b.bundled).map((b) => b.name));
}

export const runtimeName: string = 'onnxruntime-node';

/** onnxruntime-node's webgpu provider keeps its own Dawn device: its outputs come to the host. */
export async function providerDevice(): Promise<GPUDevice | null> {
  return null;
}
