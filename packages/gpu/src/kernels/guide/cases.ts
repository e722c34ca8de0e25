import { host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { guidePenalty, poolMask } from './index.ts';

export const cases = (
  [
    [1, 4, 1],
    [2, 256, 64],
    [3, 36, 12],
  ] as const
).flatMap(([B, H, G]) => [
  kernelCase({
    kernel: poolMask,
    name: `B=${B} ${H}×${H} onto ${G}×${G}`,
    inputs: () => ({ masks: host('mask', [B, H * H], randomMask(B * H * H, 90 + H, 0.3)), and: null }),
    params: { B, H, W: H, G },
  }),
  kernelCase({
    kernel: poolMask,
    name: `B=${B} ${H}×${H} onto ${G}×${G}, the overlap of two masks`,
    inputs: () => ({ masks: host('mask', [B, H * H], randomMask(B * H * H, 90 + H, 0.3)), and: host('mask', [B, H * H], randomMask(B * H * H, 93 + H, 0.6)) }),
    params: { B, H, W: H, G },
  }),
  kernelCase({
    kernel: guidePenalty,
    name: `B=${B} ${G}×${G} cells${B > 1 ? ', an empty guide in row 1' : ''}`,
    inputs: () => {
      const guide = randomArray(B * G * G, 92 + G, 0, 1);
      if (B > 1) guide.fill(0, G * G, 2 * G * G);
      return { maps: host('f32', [B, G * G], randomArray(B * G * G, 91 + G, -0.3, 0.8)), guide: host('f32', [B, G * G], guide) };
    },
    params: { B, N: G * G, weight: 0.2 },
    tolerance: { atol: 1e-6, rtol: 1e-6 },
  }),
]);
