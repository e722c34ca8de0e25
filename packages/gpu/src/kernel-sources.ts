/** WGSL sources, bundled into the package as strings (generated from the repository's kernels/). */
import { KERNEL_SOURCES } from './kernels.generated.ts';

export function kernelSource(name: string): string {
  const source = KERNEL_SOURCES[name];
  if (source === undefined) throw new Error(`kernel ${name}.wgsl is not among the bundled kernels`);
  return source;
}

/** Names of the bundled kernels. */
export const kernelNames = (): string[] => Object.keys(KERNEL_SOURCES);
