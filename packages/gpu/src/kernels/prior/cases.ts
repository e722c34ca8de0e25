import { host, kernelCase, randomArray } from '../cases.ts';
import { prior } from './index.ts';

export const cases = (
  [
    [1, 1],
    [2, 65536],
    [3, 1000],
  ] as const
).map(([B, P]) =>
  kernelCase({
    kernel: prior,
    name: `B=${B} P=${P}, rows of different supports`,
    inputs: () => ({
      maps: host('f32', [B, P], randomArray(B * P, P, -0.5, 1)),
      top: host(
        'f32',
        [B, 3],
        Float32Array.from({ length: 3 * B }, (_, i) => (i % 3 === 1 ? 0.6 + 0.1 * i : 32)),
      ),
      mus: host(
        'f32',
        [B],
        Float32Array.from({ length: B }, (_, b) => 0.1 + 0.05 * b),
      ),
    }),
    params: { B, P, sharpness: 8 },
    tolerance: { atol: 1e-6, rtol: 1e-5 },
  }),
);
