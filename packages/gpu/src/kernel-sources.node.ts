/** WGSL sources in Node: read from the repository's `kernels/` folder once per kernel. */
import { readFileSync } from 'node:fs';

const cache = new Map<string, string>();
const kernelsDir = new URL('../../../kernels/', import.meta.url);

export function kernelSource(name: string): string {
  let source = cache.get(name);
  if (source === undefined) {
    source = readFileSync(new URL(`${name}.wgsl`, kernelsDir), 'utf8');
    cache.set(name, source);
  }
  return source;
}
