import { host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { moments } from './index.ts';

export const cases = [
  ...[
    { name: 'one value', B: 1, N: 1, lo: -1, hi: 1, density: 1 },
    { name: '255 values, half masked', B: 2, N: 255, lo: -1, hi: 1, density: 0.5 },
    // The std of values spread 0.01 wide around 1000 must keep 3 digits (the two-pass algorithm).
    { name: '65,536 values offset by 1000 (stability)', B: 1, N: 65536, lo: 1000, hi: 1000.01, density: 1 },
    { name: 'empty mask', B: 1, N: 100, lo: 0, hi: 1, density: 0 },
  ].map((c) =>
    kernelCase({
      kernel: moments,
      name: c.name,
      inputs: () => ({
        values: host('f32', [c.B, c.N], randomArray(c.B * c.N, 14, c.lo, c.hi)),
        mask: host('mask', [c.B, c.N], randomMask(c.B * c.N, 15, c.density)),
      }),
      params: { B: c.B, N: c.N },
      tolerance: { atol: 1e-6, rtol: 1e-3 },
    }),
  ),
  kernelCase({
    kernel: moments,
    name: 'the mask inverted (a support background)',
    inputs: () => ({ values: host('f32', [3, 333], randomArray(999, 16)), mask: host('mask', [3, 333], randomMask(999, 17, 0.3)) }),
    params: { B: 3, N: 333, invert: true },
    tolerance: { atol: 1e-6, rtol: 1e-4 },
  }),
  kernelCase({
    kernel: moments,
    name: 'constant values have zero spread',
    inputs: () => ({ values: host('f32', [1, 1000], new Float32Array(1000).fill(3.5)), mask: null }),
    params: { B: 1, N: 1000 },
  }),
];
