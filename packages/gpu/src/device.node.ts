/** Device seam, Node half: Dawn through the `webgpu` package. */
import { create, globals } from 'webgpu';
import { deviceDescriptor, NoAdapterError, summarizeAdapter, type GpuHandle } from './device.ts';

let globalsInstalled = false;

/**
 * Opens a WebGPU device through Dawn. The Dawn instance must stay referenced while GPU work may
 * run (it crashed when collected) and keeps Node alive while referenced, so the handle owns it
 * and `release()` lets it go.
 */
export async function openGpu(options: { powerPreference?: GPUPowerPreference; adapter?: string } = {}): Promise<GpuHandle> {
  if (!globalsInstalled) {
    // GPUBufferUsage and friends are globals in browsers; install Dawn's for the same code.
    Object.assign(globalThis, globals);
    globalsInstalled = true;
  }
  // `adapter=NAME` picks an adapter by name (one process per GPU on a machine with several).
  let gpu: GPU | null = create(options.adapter ? [`adapter=${options.adapter}`] : []);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : {});
  } catch (error) {
    // Dawn lists the adapters it has when the named one is not among them.
    if (!options.adapter) throw error;
    gpu = null;
    throw new NoAdapterError(`no adapter named like "${options.adapter}": ${(error as Error).message.replace(/\s+/g, ' ').trim()}`);
  }
  if (!adapter) {
    gpu = null;
    throw new NoAdapterError(
      'Dawn found no Vulkan/Metal/D3D12 adapter. On Debian 12 install mesa-vulkan-drivers from bookworm-backports (scripts/setup-system.sh does this).',
    );
  }
  const device = await adapter.requestDevice(deviceDescriptor(adapter));
  const summary = summarizeAdapter(adapter);
  return {
    device,
    adapter: summary,
    release() {
      device.destroy();
      // The device's lost callback still comes after destroy(): the instance goes once it has.
      void device.lost.then(() => {
        gpu = null;
      });
    },
  };
}

/** True when `gpu` is ours to keep alive: used by the CLI to know it must end the process. */
export const keepsProcessAlive = true;
