/**
 * Opens the compute path a run asks for: `gpu` (a WebGPU device, or a clear error), `cpu` (the
 * references), `auto`, or a GPUDevice the caller already has.
 *
 * `auto` takes a hardware WebGPU adapter when there is one. A software adapter (lavapipe,
 * SwiftShader: a CPU behind the WebGPU API) is slower than the CPU references for SynPo's
 * kernels (see the README's benchmark), so `auto` runs the references there, and says so in one
 * line; `--device gpu` still uses it. With no adapter at all, `auto` runs the references too.
 */
import { openGpu } from '#device';
import { NoAdapterError, type AdapterSummary, type DeviceChoice } from './device.ts';
import { cpuKernels, fallbackKernels, gpuKernels, type Kernels } from './kernels.ts';
import { GpuRuntime } from './runtime.ts';

export interface ComputeOptions {
  device?: DeviceChoice | GPUDevice;
  /** Node: the adapter to open, by name (as `synpo info` prints it); one process per GPU. */
  adapter?: string;
  /** Time each dispatch with timestamp queries (when available). */
  profile?: boolean;
  /** Where one-line notices go (falling back to the CPU, losing the device). */
  notify?: (message: string) => void;
  /** How notices name the way to force the GPU and the CPU (the CLI's flags by default; a page names its controls). */
  hints?: { gpu: string; cpu: string };
}

export interface Compute {
  kernels: Kernels;
  /** The GPU runtime, or null on the CPU path. */
  runtime: GpuRuntime | null;
  adapter: AdapterSummary | null;
  /** Frees what this context created (never a device the caller passed in). */
  release(): void;
}

export async function openCompute(options: ComputeOptions = {}): Promise<Compute> {
  const choice = options.device ?? 'auto';
  const notify = options.notify ?? ((m: string) => console.warn(m));
  const hints = options.hints ?? { gpu: '--device gpu', cpu: '--device cpu' };
  const cpu = cpuKernels();
  if (choice === 'cpu') return { kernels: cpu, runtime: null, adapter: null, release: () => {} };

  let device: GPUDevice;
  let adapter: AdapterSummary | null = null;
  let releaseDevice = () => {};
  if (typeof choice === 'object') {
    device = choice;
  } else {
    try {
      const handle = await openGpu(options.adapter ? { adapter: options.adapter } : {});
      if (choice === 'auto' && handle.adapter?.isFallbackAdapter) {
        notify(
          `synpo: the only WebGPU adapter is a software one (${handle.adapter.description}); the CPU reference kernels are faster there, running those (${hints.gpu} to use it)`,
        );
        // Dawn must stay referenced until the end of the run (it crashes when collected early).
        return { kernels: cpu, runtime: null, adapter: null, release: () => handle.release() };
      }
      device = handle.device;
      adapter = handle.adapter;
      releaseDevice = () => handle.release();
    } catch (error) {
      // A named adapter that is not there is an error, not a reason to run elsewhere.
      if (choice === 'auto' && error instanceof NoAdapterError && !options.adapter) {
        notify(`synpo: ${error.message.split('.')[0]}; running the CPU reference kernels (${hints.cpu})`);
        return { kernels: cpu, runtime: null, adapter: null, release: () => {} };
      }
      throw error;
    }
  }
  const runtime = new GpuRuntime(device, options.profile ? { profile: true } : {});
  const kernels = fallbackKernels(gpuKernels(runtime), cpu, (error) => notify(`synpo: ${error.message}; continuing on the CPU reference kernels`));
  return {
    kernels,
    runtime,
    adapter,
    release() {
      runtime.destroy();
      releaseDevice();
    },
  };
}
