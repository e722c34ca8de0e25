import { createRng } from '../../random.ts';
import { host, kernelCase, randomArray } from '../cases.ts';
import { drawIntegers, kmeans } from './index.ts';

/** Points round four centres, with noise. */
const blobs = (n: number, seed: number): Float32Array => {
  const centres = [
    [20, 30],
    [200, 40],
    [120, 220],
    [60, 160],
  ];
  const noise = randomArray(2 * n, seed, -15, 15);
  return Float32Array.from({ length: 2 * n }, (_, t) => centres[Math.floor(t / 2) % 4]![t % 2]! + noise[t]!);
};

/** Rows of different lengths padded into [B][n][2], with their counts. */
const rows = (sets: Float32Array[]) => {
  const n = Math.max(...sets.map((s) => s.length / 2));
  const points = new Float32Array(sets.length * n * 2);
  sets.forEach((s, b) => points.set(s, b * n * 2));
  return { n, points, counts: Uint32Array.from(sets, (s) => s.length / 2) };
};

export const cases = [
  { name: 'one point, k = 1', sets: () => [Float32Array.of(3, 4)], k: 1 },
  { name: '32 points, k = 4', sets: () => [blobs(32, 18)], k: 4 },
  { name: 'k > N (3 points, k = 8)', sets: () => [Float32Array.of(0, 0, 5, 5, 9, 1)], k: 8 },
  { name: 'duplicate points only', sets: () => [new Float32Array(40).fill(7)], k: 4 },
  { name: 'a batch of sets of different sizes', sets: () => [blobs(32, 19), blobs(100, 20), blobs(5, 21)], k: 4 },
  { name: '5,000 points, k = 16', sets: () => [blobs(5000, 22)], k: 16 },
  // Grid points (integers), as PSM clusters cells: sums are exact, so the centres are too.
  { name: 'grid points, a batch of 3, k = 6', sets: () => [0, 1, 2].map((b) => Float32Array.from(randomArray(400 - 50 * b, 40 + b, 0, 64), Math.floor)), k: 6 },
].map((c) => {
  const { n, points, counts } = rows(c.sets());
  const B = counts.length;
  return kernelCase({
    kernel: kmeans,
    name: c.name,
    inputs: () => ({
      points: host('f32', [B, n, 2], points),
      counts: host('u32', [B], counts),
      draws: host('u32', [B, c.k], drawIntegers(createRng(1234, B), B * c.k)),
    }),
    params: { B, n, k: c.k, maxIterations: 100 },
    // Sizes exactly; only live centres carry meaning, and they agree to f32 rounding of the sums.
    view: ({ centroids, sizes }) => ({
      sizes: Array.from(sizes.data),
      centres: Array.from(sizes.data, (size, slot) => (size > 0 ? [centroids.data[2 * slot]!, centroids.data[2 * slot + 1]!] : null)),
    }),
    tolerance: { atol: 1e-3, rtol: 1e-5 },
  });
});
