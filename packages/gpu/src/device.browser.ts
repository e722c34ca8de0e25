/** Device seam, browser half: `navigator.gpu`. */
import { deviceDescriptor, NoAdapterError, summarizeAdapter, type GpuHandle } from './device.ts';

/** `adapter` (a name) is for Dawn in Node; a browser offers one adapter per request and ignores it. */
export async function openGpu(options: { powerPreference?: GPUPowerPreference; adapter?: string } = {}): Promise<GpuHandle> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new NoAdapterError('this browser has no navigator.gpu (WebGPU is off or unsupported)');
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  if (!adapter) throw new NoAdapterError('navigator.gpu.requestAdapter() returned null');
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  return { device, adapter: summarizeAdapter(adapter), release: () => device.destroy() };
}

export const keepsProcessAlive = false;
