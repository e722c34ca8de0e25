import { host, kernelCase, randomArray } from '../cases.ts';
import { areaThreshold } from './index.ts';

/**
 * Area targets by row: none (the fallback), one inside the range, one clamped above, one clamped
 * below, one larger than the row, a tiny one; values outside [0, 1] and ties on a bin's edge.
 */
export function areaInputs(B: number, P: number) {
  const values = randomArray(B * P, 40 + P, -0.1, 1.1);
  values.fill(0.5, 0, Math.min(P, 300)); // many values on the edge of bin 128
  const targets = Float32Array.from({ length: B }, (_, b) => [0, 0.3 * P, 0.01 * P, 0.95 * P, 2 * P, 7][b % 6]!);
  return { values: host('f32', [B, P], values), targets: host('f32', [B], targets) };
}

export const cases = (
  [
    [1, 1],
    [6, 65536],
    [3, 1000],
  ] as const
).map(([B, P]) =>
  kernelCase({ kernel: areaThreshold, name: `B=${B} P=${P}`, inputs: () => areaInputs(B, P), params: { B, P, lo: 0.3, hi: 0.7, fallback: 0.5 } }),
);
