import { host, kernelCase, randomArray } from '../cases.ts';
import { gaussian } from './index.ts';

export const cases = [
  { s: { B: 1, H: 1, W: 1 }, sigma: 1 },
  { s: { B: 2, H: 37, W: 53 }, sigma: 2.5 },
  { s: { B: 1, H: 256, W: 256 }, sigma: 16 },
  { s: { B: 1, H: 10, W: 10 }, sigma: 8 }, // the radius is wider than the image: clamped edges
].map(({ s, sigma }) =>
  kernelCase({
    kernel: gaussian,
    name: `σ=${sigma} on ${s.B}×${s.H}×${s.W}`,
    inputs: () => ({ maps: host('f32', [s.B, s.H * s.W], randomArray(s.B * s.H * s.W, 27, 0, 1)) }),
    params: { ...s, sigma },
    tolerance: { atol: 1e-5, rtol: 1e-4 },
  }),
);
