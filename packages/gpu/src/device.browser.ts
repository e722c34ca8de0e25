/** Device seam, browser half: `navigator.gpu`. */
import { deviceDescriptor, NoAdapterError, summarizeAdapter, type GpuHandle } from './device.ts';

export async function openGpu(options: { powerPreference?: GPUPowerPreference } = {}): Promise<GpuHandle> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) throw new NoAdapterError('this browser has no navigator.gpu (WebGPU is off or unsupported)');
  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  if (!adapter) throw new NoAdapterError('navigator.gpu.requestAdapter() returned null');
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  return { device, adapter: summarizeAdapter(adapter), release: () => device.destroy() };
}

export const keepsProcessAlive = false;
