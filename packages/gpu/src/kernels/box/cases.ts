import { createRng } from '../../random.ts';
import { host, kernelCase } from '../cases.ts';
import { promptRows } from './index.ts';

// Rows: several live centres, empty clusters, centres on a half (rounding up, as Math.round), a row
// with no positive at all (no box), and no negatives (Kn = 0), with and without extents.
export const cases = (
  [
    [1, 1, 0, false],
    [4, 4, 4, true],
    [3, 2, 5, false],
    [70, 4, 4, true],
  ] as const
).map(([B, Kp, Kn, withExtents]) => {
  const rng = createRng(B * 100 + Kp * 10 + Kn);
  const centre = () => [0.5, 2.5, 63, 17.49999, 31.5][Math.floor(rng() * 5)]! + Math.floor(rng() * 30);
  const posC = Float32Array.from({ length: B * Kp * 2 }, centre);
  // Row 0's first slot is live; row 1 has none.
  const posS = Uint32Array.from({ length: B * Kp }, (_, i) => (i === 0 ? 5 : Math.floor(i / Kp) === 1 ? 0 : rng() < 0.2 ? 0 : 1 + Math.floor(rng() * 9)));
  const negC = Float32Array.from({ length: B * Kn * 2 }, centre);
  const negS = Uint32Array.from({ length: B * Kn }, () => (rng() < 0.3 ? 0 : 3));
  const extents = Float32Array.from({ length: B * 2 }, () => 1 + Math.floor(rng() * 120));
  return kernelCase({
    kernel: promptRows,
    name: `B=${B} Kp=${Kp} Kn=${Kn}${withExtents ? ' with extents' : ''}`,
    inputs: () => ({
      posCentroids: host('f32', [B, Kp, 2], posC),
      posSizes: host('u32', [B, Kp], posS),
      negCentroids: Kn ? host('f32', [B, Kn, 2], negC) : null,
      negSizes: Kn ? host('u32', [B, Kn], negS) : null,
      extents: withExtents ? host('f32', [B, 2], extents) : null,
    }),
    params: { B, Kp, Kn, cell: 4, margin: 12, marginFactor: 0.5, extentFactor: 1.2 },
    // Points are exact (cell centres); the box is f32 on the device and f64 → f32 in the reference.
    tolerance: { atol: 1e-4, rtol: 1e-6 },
  });
});
