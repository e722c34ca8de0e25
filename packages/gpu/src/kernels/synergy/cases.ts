import { host, kernelCase, randomArray } from '../cases.ts';
import { synergy } from './index.ts';

// 65535·64 + 5 values: past one dispatch dimension, so the grid folds into two.
export const cases = [1, 63, 4096, 65535 * 64 + 5].map((n) =>
  kernelCase({
    kernel: synergy,
    name: `${n} values`,
    inputs: () => ({ a: host('f32', [n], randomArray(n, 10)), b: host('f32', [n], randomArray(n, 11)) }),
    params: { both: 0.8, sam: 0.1, dino: 0.1 },
    tolerance: { atol: 1e-6, rtol: 1e-6 },
  }),
);
