import { host, kernelCase, randomArray } from '../cases.ts';
import { confidence } from './index.ts';

export const cases = [
  ...[
    { B: 1, C: 1, N: 1, shared: true },
    { B: 1, C: 5, N: 65, shared: true },
    { B: 4, C: 32, N: 4096, shared: true },
    { B: 3, C: 256, N: 1000, shared: false },
  ].map(({ shared, ...s }) =>
    kernelCase({
      kernel: confidence,
      name: `B=${s.B} C=${s.C} N=${s.N} ${shared ? 'shared' : 'per-grid'} prototype`,
      inputs: () => ({
        features: host('f32', [s.B, s.C, s.N], randomArray(s.B * s.C * s.N, 3)),
        prototypes: host('f32', shared ? [s.C] : [s.B, s.C], randomArray((shared ? 1 : s.B) * s.C, 4)),
      }),
      params: s,
      tolerance: { atol: 1e-5, rtol: 1e-4 },
    }),
  ),
  kernelCase({
    kernel: confidence,
    name: 'constant features',
    inputs: () => ({ features: host('f32', [2, 8, 300], new Float32Array(4800).fill(0.25)), prototypes: host('f32', [8], randomArray(8, 5)) }),
    params: { B: 2, C: 8, N: 300 },
    tolerance: { atol: 1e-5, rtol: 1e-5 },
  }),
  kernelCase({
    kernel: confidence,
    name: 'a zero feature vector (0, not NaN)',
    inputs: () => ({ features: host('f32', [1, 4, 3], new Float32Array(12)), prototypes: host('f32', [4], randomArray(4, 6)) }),
    params: { B: 1, C: 4, N: 3 },
  }),
];
