import { host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { prototype } from './index.ts';

export const cases = [
  { B: 1, C: 1, N: 1 },
  { B: 1, C: 3, N: 77 },
  { B: 3, C: 17, N: 4096 },
  { B: 2, C: 256, N: 130 },
].map((s) =>
  kernelCase({
    kernel: prototype,
    name: `B=${s.B} C=${s.C} N=${s.N}`,
    inputs: () => {
      const masks = randomMask(s.B * s.N, 2, 0.3);
      for (let b = 0; b < s.B; b++) masks[b * s.N] = 1; // every mask non-empty
      return { features: host('f32', [s.B, s.C, s.N], randomArray(s.B * s.C * s.N, 1)), masks: host('mask', [s.B, s.N], masks) };
    },
    params: s,
    tolerance: { atol: 1e-5, rtol: 1e-4 },
  }),
);
