import { host, kernelCase, randomArray } from '../cases.ts';
import { appearance, stackPosition } from './index.ts';

export const cases = [
  ...[
    { s: { B: 1, H: 8, W: 8 }, spec: { sigmas: [1], pool: 2 } },
    { s: { B: 2, H: 64, W: 48 }, spec: { sigmas: [1, 4], pool: 4 } },
    { s: { B: 1, H: 256, W: 256 }, spec: { sigmas: [1, 2, 4, 8, 16], pool: 4 } },
    { s: { B: 2, H: 256, W: 256 }, spec: { sigmas: [1, 2, 4, 8, 16], pool: 4, prePool: 2 } },
  ].map(({ s, spec }) =>
    kernelCase({
      kernel: appearance,
      name: `${s.B}×${s.H}×${s.W}, σ ∈ {${spec.sigmas.join(', ')}}, pool ${spec.pool}, prePool ${spec.prePool ?? 1}`,
      inputs: () => ({ slices: host('f32', [s.B, s.H * s.W], randomArray(s.B * s.H * s.W, 28, 0, 1)) }),
      params: { ...s, ...spec },
      tolerance: { atol: 2e-3, rtol: 2e-3 },
    }),
  ),
  ...[
    { B: 1, C: 1, N: 1, Cp: 1, weight: 1 },
    { B: 3, C: 10, N: 4096, Cp: 14, weight: 0.5 },
  ].map((p) =>
    kernelCase({
      kernel: stackPosition,
      name: `B=${p.B} C=${p.C} Cp=${p.Cp} N=${p.N}`,
      inputs: () => ({
        appearance: host('f32', [p.B, p.C, p.N], randomArray(p.B * p.C * p.N, 21)),
        position: host('f32', [p.Cp, p.N], randomArray(p.Cp * p.N, 22)),
      }),
      params: p,
      tolerance: { atol: 1e-6, rtol: 1e-6 },
    }),
  ),
];
