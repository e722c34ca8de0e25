import { host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { confidenceNaive } from './index.ts';

export const cases = [
  { B: 1, C: 1, N: 1, density: 1 },
  { B: 2, C: 16, N: 257, density: 0.2 },
  { B: 1, C: 64, N: 4096, density: 0.02 },
].map(({ density, ...s }) => {
  const supportMask = randomMask(s.N, 9, density);
  supportMask[0] = 1;
  return kernelCase({
    kernel: confidenceNaive,
    name: `B=${s.B} C=${s.C} N=${s.N}, ${Math.round(density * 100)}% foreground`,
    inputs: () => ({ query: host('f32', [s.B, s.C, s.N], randomArray(s.B * s.C * s.N, 7)), support: host('f32', [s.C, s.N], randomArray(s.C * s.N, 8)) }),
    params: { ...s, supportMask },
    tolerance: { atol: 1e-5, rtol: 1e-4 },
  });
});
