/** WGSL sources in the browser: bundled by Vite from the repository's `kernels/` folder. */
const sources = (import.meta as unknown as {
  glob(pattern: string, options: { query: string; import: string; eager: true }): Record<string, string>;
}).glob('../../../kernels/*.wgsl', { query: '?raw', import: 'default', eager: true });

export function kernelSource(name: string): string {
  const source = sources[`../../../kernels/${name}.wgsl`];
  if (source === undefined) throw new Error(`kernel ${name}.wgsl is not bundled`);
  return source;
}
