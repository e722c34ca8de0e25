import { host, kernelCase, randomArray } from '../cases.ts';
import { band } from './index.ts';

export const cases = [
  { name: 'one value inside', B: 1, N: 1, bounds: [-1, 1] },
  { name: '257 values, rows with their own bounds', B: 2, N: 257, bounds: [-0.2, 0.3, 0.5, 2] },
  { name: '65,536 values', B: 1, N: 65536, bounds: [0.1, 0.15] },
  { name: 'empty band', B: 1, N: 500, bounds: [5, 6] },
  { name: 'everything', B: 1, N: 70000, bounds: [-1, 1] },
].map((c) =>
  kernelCase({
    kernel: band,
    name: c.name,
    inputs: () => ({ values: host('f32', [c.B, c.N], randomArray(c.B * c.N, 16)), bounds: host('f32', [c.B, 2], Float32Array.from(c.bounds)) }),
    params: { B: c.B, N: c.N },
    // Only each row's first counts[b] indices carry meaning.
    view: ({ indices, counts }) => Array.from(counts.data, (n, b) => Array.from(indices.data.subarray(b * c.N, b * c.N + n))),
  }),
);
