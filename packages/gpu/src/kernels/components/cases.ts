import { host, kernelCase, randomMask } from '../cases.ts';
import { components } from './index.ts';
import type { Connectivity } from './reference.ts';

/** A one-pixel-wide spiral: one component whose labels must travel the whole image. */
export function spiral(n: number): Uint8Array {
  const m = new Uint8Array(n * n);
  let [x0, y0, x1, y1] = [0, 0, n - 1, n - 1];
  while (x0 <= x1 && y0 <= y1) {
    for (let x = x0; x <= x1; x++) m[y0 * n + x] = 1;
    for (let y = y0; y <= y1; y++) m[y * n + x1] = 1;
    if (y1 - 2 > y0) for (let x = x0; x <= x1; x++) m[y1 * n + x] = 1;
    if (x0 + 2 < x1) for (let y = y0 + 2; y <= y1; y++) m[y * n + x0] = 1;
    x0 += 2;
    y0 += 2;
    x1 -= 2;
    y1 -= 2;
    if (x0 < n && y0 < n) m[y0 * n + x0 - 1] = 1;
  }
  return m;
}

export const componentImages = [
  { name: '1×1 set', s: { B: 1, H: 1, W: 1 }, mask: () => Uint8Array.of(1) },
  { name: 'random 61×67, batch 2', s: { B: 2, H: 61, W: 67 }, mask: () => randomMask(2 * 61 * 67, 24, 0.45) },
  { name: '256×256 random', s: { B: 1, H: 256, W: 256 }, mask: () => randomMask(65536, 25, 0.55) },
  { name: '64×64 spiral', s: { B: 1, H: 64, W: 64 }, mask: () => spiral(64) },
  { name: 'diagonal pixels (differ between 4 and 8)', s: { B: 1, H: 9, W: 9 }, mask: () => Uint8Array.from({ length: 81 }, (_, i) => (i % 10 === 0 ? 1 : 0)) },
  { name: 'empty', s: { B: 1, H: 16, W: 16 }, mask: () => new Uint8Array(256) },
];

export const cases = componentImages.flatMap(({ name, s, mask }) =>
  ([4, 8] as Connectivity[]).map((connectivity) =>
    kernelCase({
      kernel: components,
      name: `${name}, ${connectivity}-connected`,
      inputs: () => ({ masks: host('mask', [s.B, s.H * s.W], mask()) }),
      params: { ...s, connectivity },
    }),
  ),
);
