import { discMask, host, kernelCase, randomMask } from '../cases.ts';
import { morphology } from './index.ts';
import type { StructuringElement } from './reference.ts';

const elements: StructuringElement[] = [
  { shape: 'square', radius: 0 },
  { shape: 'square', radius: 1 },
  { shape: 'disc', radius: 2 },
  { shape: 'disc', radius: 3 },
];
const images = [
  { name: '1×1 set', s: { B: 1, H: 1, W: 1 }, mask: () => Uint8Array.of(1) },
  { name: 'random 37×53, batch 2', s: { B: 2, H: 37, W: 53 }, mask: () => randomMask(2 * 37 * 53, 23, 0.6) },
  { name: '256×256 disc touching the border', s: { B: 1, H: 256, W: 256 }, mask: () => discMask(256, 256, 250, 128, 30) },
  { name: 'empty', s: { B: 1, H: 20, W: 20 }, mask: () => new Uint8Array(400) },
];

export const cases = images.flatMap(({ name, s, mask }) =>
  elements.flatMap((element) =>
    (['erode', 'dilate'] as const).map((op) =>
      kernelCase({
        kernel: morphology,
        name: `${op} ${name} with ${element.shape} r=${element.radius}`,
        inputs: () => ({ masks: host('mask', [s.B, s.H * s.W], mask()) }),
        params: { ...s, op, element },
      }),
    ),
  ),
);
