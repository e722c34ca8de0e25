/**
 * Compute pipelines cached per device (TypeGPU's WeakMap pattern): a kernel compiles once per
 * device, entry point and workgroup size. Shapes are uniforms, so a new image size never
 * recompiles. Bind-group layouts are explicit and shared by every entry point of a kernel.
 */
import { kernelSource } from './kernel-sources.ts';

/** How a kernel sees one binding: a uniform block, a read-only or a read-write storage buffer. */
export type BindingKind = 'uniform' | 'read' | 'storage';

/** One kernel's contract: its file in kernels/, its bindings in order, its workgroup size. */
export interface KernelSpec {
  /** File name in kernels/ without `.wgsl`; also the label of every GPU object it makes. */
  name: string;
  bindings: readonly BindingKind[];
  /** Threads per workgroup, passed as the WGSL override constant `WG` (compile-time fact). */
  workgroupSize: number;
  /**
   * Constants the WGSL shares with TypeScript (its CPU reference, its wrapper), passed as override
   * constants: the WGSL declares them without a value, so each is written once, here.
   */
  constants?: Readonly<Record<string, number>>;
}

interface DeviceCache {
  modules: Map<string, GPUShaderModule>;
  layouts: Map<string, { bindGroup: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>;
  pipelines: Map<string, GPUComputePipeline>;
}

const caches = new WeakMap<GPUDevice, DeviceCache>();

function cacheFor(device: GPUDevice): DeviceCache {
  let cache = caches.get(device);
  if (!cache) caches.set(device, (cache = { modules: new Map(), layouts: new Map(), pipelines: new Map() }));
  return cache;
}

const BUFFER_TYPE: Record<BindingKind, GPUBufferBindingType> = {
  uniform: 'uniform',
  read: 'read-only-storage',
  storage: 'storage',
};

export function kernelLayout(device: GPUDevice, spec: KernelSpec): GPUBindGroupLayout {
  const cache = cacheFor(device);
  let entry = cache.layouts.get(spec.name);
  if (!entry) {
    const bindGroup = device.createBindGroupLayout({
      label: spec.name,
      entries: spec.bindings.map((kind, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: BUFFER_TYPE[kind] },
      })),
    });
    entry = { bindGroup, pipeline: device.createPipelineLayout({ label: spec.name, bindGroupLayouts: [bindGroup] }) };
    cache.layouts.set(spec.name, entry);
  }
  return entry.bindGroup;
}

/** The pipeline if it is compiled already (no device call, so nothing to guard). */
export function cachedKernelPipeline(device: GPUDevice, spec: KernelSpec, entryPoint: string): GPUComputePipeline | undefined {
  return caches.get(device)?.pipelines.get(`${spec.name}:${entryPoint}:${spec.workgroupSize}`);
}

export function kernelPipeline(device: GPUDevice, spec: KernelSpec, entryPoint: string): GPUComputePipeline {
  const cache = cacheFor(device);
  const key = `${spec.name}:${entryPoint}:${spec.workgroupSize}`;
  let pipeline = cache.pipelines.get(key);
  if (!pipeline) {
    let module = cache.modules.get(spec.name);
    if (!module) {
      module = device.createShaderModule({ label: spec.name, code: kernelSource(spec.name) });
      cache.modules.set(spec.name, module);
    }
    kernelLayout(device, spec);
    pipeline = device.createComputePipeline({
      label: `${spec.name}:${entryPoint}`,
      layout: cacheFor(device).layouts.get(spec.name)!.pipeline,
      compute: { module, entryPoint, constants: { ...spec.constants, WG: spec.workgroupSize } },
    });
    cache.pipelines.set(key, pipeline);
  }
  return pipeline;
}

/** Number of pipelines compiled for a device so far (tests check that sizes do not recompile). */
export function compiledPipelineCount(device: GPUDevice): number {
  return caches.get(device)?.pipelines.size ?? 0;
}
