/**
 * The device seam's shared types. The platform halves live in `device.node.ts` (Dawn through the
 * `webgpu` package) and `device.browser.ts` (`navigator.gpu`), picked by the `#device` import
 * condition, so neither runtime's code reaches the other's bundle.
 */

/** Which path runs the kernels: `auto` takes a WebGPU adapter when one exists, else the CPU. */
export type DeviceChoice = 'auto' | 'gpu' | 'cpu';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters (lavapipe, SwiftShader): correct, but a CPU underneath. */
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/**
 * A device and whoever owns it. `release()` destroys a device we created (and drops the Dawn
 * instance that keeps Node alive); a caller's own device is never destroyed by us.
 */
export interface GpuHandle {
  device: GPUDevice;
  adapter: AdapterSummary | null;
  release(): void;
}

export class NoAdapterError extends Error {
  constructor(detail: string) {
    super(`no WebGPU adapter: ${detail}`);
    this.name = 'NoAdapterError';
  }
}

/** Features we ask for when the adapter has them: timing and nothing the kernels depend on. */
export const OPTIONAL_FEATURES: readonly GPUFeatureName[] = ['timestamp-query'];

/** Limits we raise to the adapter's maximum because big feature grids need them. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
] as const;

export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  // GPUSupportedLimits exposes its fields as prototype getters, so walk the prototype.
  for (const key of Object.keys(Object.getPrototypeOf(adapter.limits) as object)) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof value === 'number') limits[key] = value;
  }
  const fallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const description = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ');
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description,
    // Dawn does not always report isFallbackAdapter; the software drivers name themselves.
    isFallbackAdapter: fallback || /llvmpipe|lavapipe|swiftshader/i.test(description) || info.architecture === 'software',
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

export function deviceDescriptor(adapter: GPUAdapter): GPUDeviceDescriptor {
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  return {
    label: 'synpo',
    requiredFeatures: OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)),
    requiredLimits,
  };
}
