import { host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { componentImages } from '../components/cases.ts';
import { NO_COMPONENT } from '../components/reference.ts';
import { bestComponent, keepRows, threshold } from './index.ts';

export const cases = [
  ...[1, 1000, 65536 * 64 + 77].map((n) =>
    kernelCase({
      kernel: threshold,
      // The last is over 65,535 workgroups (and its read packs as many words).
      name: `${n} values`,
      inputs: () => ({ values: host('f32', [n], randomArray(n, 3)) }),
      params: 0.25,
    }),
  ),
  kernelCase({
    kernel: threshold,
    name: 'rows of a batch keep their shape',
    inputs: () => ({ values: host('f32', [3, 7, 5], randomArray(105, 4)) }),
    params: -0.1,
  }),
  ...componentImages.map(({ name, s, mask }) =>
    kernelCase({
      kernel: bestComponent,
      name: `${name}, 8-connected`,
      inputs: () => ({ masks: host('mask', [s.B, s.H * s.W], mask()), values: host('f32', [s.B, s.H * s.W], randomArray(s.B * s.H * s.W, 26, 0, 1)) }),
      params: { ...s, connectivity: 8 as const },
    }),
  ),
  kernelCase({
    kernel: bestComponent,
    name: 'a batch with an empty slice, 4-connected',
    inputs: () => {
      const masks = randomMask(3 * 37 * 53, 27, 0.45);
      masks.fill(0, 37 * 53, 2 * 37 * 53);
      return { masks: host('mask', [3, 37 * 53], masks), values: host('f32', [3, 37 * 53], randomArray(3 * 37 * 53, 5, 0, 1)) };
    },
    params: { B: 3, H: 37, W: 53, connectivity: 4 as const },
  }),
  kernelCase({
    kernel: keepRows,
    name: 'rows with and without a component',
    inputs: () => ({ masks: host('mask', [4, 300], randomMask(1200, 6)), found: host('u32', [4], Uint32Array.of(3, NO_COMPONENT, 0, NO_COMPONENT)) }),
    params: { B: 4, P: 300 },
  }),
];
