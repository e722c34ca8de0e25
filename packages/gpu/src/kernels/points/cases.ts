import { createRng } from '../../random.ts';
import { drawIntegers } from '../kmeans/reference.ts';
import { host, kernelCase } from '../cases.ts';
import { cellPoints, sampleRows } from './index.ts';

export const cases = [
  ...(
    [
      [1, 1, 1],
      [1, 40, 32],
      [3, 4096, 32],
      [2, 100, 100],
      [5, 333, 7],
    ] as const
  ).map(([B, n, m]) => {
    const rng = createRng(B * 1000 + n);
    const counts = Uint32Array.from({ length: B }, (_, b) => (b === 0 ? n : Math.floor(rng() * (n + 1))));
    const indices = new Uint32Array(B * n);
    for (let b = 0; b < B; b++) {
      let v = 0;
      for (let i = 0; i < n; i++) indices[b * n + i] = v += 1 + Math.floor(rng() * 3);
    }
    return kernelCase({
      kernel: sampleRows,
      name: `B=${B} n=${n} m=${m}`,
      inputs: () => ({
        indices: host('u32', [B, n], indices),
        counts: host('u32', [B], counts),
        draws: host('u32', [B, m], drawIntegers(createRng(7, B), B * m)),
      }),
      params: { B, n, m },
      view: (out) => Array.from(out.counts.data, (c, b) => Array.from(out.indices.data.subarray(b * n, b * n + c))),
    });
  }),
  ...(
    [
      [1, 1, 64, true],
      [4, 32, 64, true],
      [2, 65, 7, true],
      [3, 1500, 1024, true],
      [2, 10, 8, false],
    ] as const
  ).map(([B, n, G, withCounts]) => {
    const rng = createRng(n);
    const indices = Uint32Array.from({ length: B * n }, () => Math.floor(rng() * G * G));
    const counts = Uint32Array.from({ length: B }, (_, b) => (b % 2 ? Math.floor(n / 2) : n));
    return kernelCase({
      kernel: cellPoints,
      name: `B=${B} n=${n} G=${G}${withCounts ? '' : ', every index'}`,
      inputs: () => ({ indices: host('u32', [B, n], indices), counts: withCounts ? host('u32', [B], counts) : null }),
      params: { B, n, G },
      view: (out) => Array.from(out.counts.data, (c, b) => Array.from(out.points.data.subarray(2 * b * n, 2 * (b * n + c)))),
    });
  }),
];
