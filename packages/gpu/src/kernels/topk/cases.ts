import { host, kernelCase, randomArray } from '../cases.ts';
import { topk } from './index.ts';

export const cases = [
  { name: 'k = N = 1', B: 1, N: 1, k: 1, values: null },
  { name: 'N = 1000, k = 32', B: 1, N: 1000, k: 32, values: null },
  { name: 'batch of 3, N = 4097, k = 100', B: 3, N: 4097, k: 100, values: null },
  { name: 'N = 65,536, k = 1024', B: 1, N: 65536, k: 1024, values: null },
  { name: 'all ties go to the lower index', B: 1, N: 600, k: 17, values: () => new Float32Array(600).fill(0.5) },
  { name: 'two tie levels', B: 1, N: 2000, k: 40, values: () => Float32Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? 1 : 0)) },
].map((c) =>
  kernelCase({
    kernel: topk,
    name: c.name,
    inputs: () => ({ values: host('f32', [c.B, c.N], c.values?.() ?? randomArray(c.B * c.N, 17)) }),
    params: { B: c.B, N: c.N, k: c.k },
    timeout: 120_000,
  }),
);
