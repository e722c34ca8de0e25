import { host, kernelCase, randomArray } from '../cases.ts';
import { randomWalker } from './index.ts';
import { SEED_BACKGROUND, SEED_FOREGROUND } from './reference.ts';

/** Two flat regions split by a vertical edge at x = split, with noise. */
export function twoRegions(H: number, W: number, split: number, seed: number): Float32Array {
  const noise = randomArray(H * W, seed, -0.03, 0.03);
  return Float32Array.from({ length: H * W }, (_, i) => (i % W < split ? 0.7 : 0.3) + noise[i]!);
}

/** B slices with an edge each, and a foreground seed left of it and a background seed right of it (or none). */
export function walkerInputs(B: number, H: number, W: number, seeded = true) {
  const plane = H * W;
  const image = new Float32Array(B * plane);
  const seeds = new Uint8Array(B * plane);
  for (let b = 0; b < B; b++) {
    image.set(twoRegions(H, W, Math.floor(W / 2) + b, 30 + b), b * plane);
    if (seeded) {
      seeds[b * plane + Math.floor(H / 2) * W + 2] = SEED_FOREGROUND;
      seeds[b * plane + Math.floor(H / 2) * W + W - 3] = SEED_BACKGROUND;
    }
  }
  return {
    image: host('f32', [B, plane], image),
    seeds: host('mask', [B, plane], seeds),
    prior: host('f32', [B, plane], new Float32Array(B * plane).fill(0.5)),
  };
}

/**
 * As walkerInputs, with the walk bounded to a box away from the borders (background seeds
 * outside it, as the weight-free decoder bounds its walks), and in the last slice every pixel a
 * seed (nothing to solve).
 */
export function boxedWalkerInputs(B: number, H: number, W: number) {
  const inputs = walkerInputs(B, H, W);
  const seeds = inputs.seeds.data;
  const prior = inputs.prior.data;
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < plane; i++) {
      const y = Math.floor(i / W);
      const x = i % W;
      const inside = b < B - 1 && y >= 5 + b && y < H - 7 && x >= 1 && x < W - 4 - b;
      if (!inside) seeds[b * plane + i] = b === B - 1 && x < W / 2 ? SEED_FOREGROUND : SEED_BACKGROUND;
      prior[b * plane + i] = x < W / 2 ? 0.6 : 0.4;
    }
  }
  return inputs;
}

const options = { beta: 130, gamma: 0.05, maxIterations: 300, tolerance: 1e-4 };

export const cases = [
  { name: 'one slice, one seed each side', B: 1, H: 32, W: 40 },
  { name: 'a batch of 3 slices, 128×128', B: 3, H: 128, W: 128 },
  { name: 'no seeds: the prior alone', B: 1, H: 16, W: 16, seeded: false },
  { name: 'walks bounded to boxes off the borders; a slice all seeds', B: 3, H: 48, W: 56, boxed: true },
].map((c) =>
  kernelCase({
    kernel: randomWalker,
    name: c.name,
    inputs: () => ('boxed' in c ? boxedWalkerInputs(c.B, c.H, c.W) : walkerInputs(c.B, c.H, c.W, c.seeded ?? true)),
    params: { B: c.B, H: c.H, W: c.W, ...options },
    tolerance: { atol: 2e-3, rtol: 0 },
    timeout: 120_000,
  }),
);
