import { host, kernelCase, randomArray } from '../cases.ts';
import { tokensToGrid } from './index.ts';

export const cases = (
  [
    [1, 1, 1, 1],
    [2, 16, 5, 8],
    [3, 7, 1, 37],
  ] as const
).map(([B, C, skip, g]) => {
  const T = skip + g * g;
  return kernelCase({
    kernel: tokensToGrid,
    name: `B=${B} C=${C} skip=${skip} ${g}×${g}`,
    inputs: () => ({ tokens: host('f32', [B, T, C], randomArray(B * T * C, B + C)) }),
    params: { B, T, C, skip, cells: g * g },
  });
});
