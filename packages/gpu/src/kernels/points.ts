/** GPU wrappers of kernels/points.wgsl: PSM's seeded subsets and cell coordinates. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

export const pointsSpec: KernelSpec = {
  name: 'points',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

/**
 * Per row of `indices` ([B][n], the first counts[b] valid), a seeded subset of m ([B][m] 24-bit
 * draws), ascending, in the first m slots of a [B][n] tensor; and the subset sizes [B].
 */
export function recordSampleRows(
  rec: Recorder,
  indices: Slot,
  counts: Slot,
  draws: Slot,
  { B, n, m }: { B: number; n: number; m: number },
): { sampled: DeviceTensor; counts: DeviceTensor } {
  const sampled = rec.scratch(B * n * 4, 'points:sampled', false, 'u32', [B, n]);
  const out = rec.scratch(B * 4, 'points:sample-counts', false, 'u32', [B]);
  const unused = rec.scratch(4, 'points:unused-out');
  rec.dispatch(
    pointsSpec,
    'sample_rows',
    [indices, counts, draws, sampled, unused, out],
    [B],
    [u32(n), u32(B), u32(0), u32(m), u32(1), u32(0), u32(0), u32(0)],
  );
  return { sampled, counts: out };
}

/** Cell indices of a G-wide grid ([B][n], the first counts[b] valid, or all) → [B][n] (x, y). */
export function recordCellPoints(
  rec: Recorder,
  indices: Slot,
  counts: Slot | null,
  { B, n, G }: { B: number; n: number; G: number },
): { points: DeviceTensor; counts: DeviceTensor } {
  const points = rec.scratch(B * n * 8, 'points:xy', false, 'f32', [B, n, 2]);
  const out = rec.scratch(B * 4, 'points:counts', false, 'u32', [B]);
  const unused = rec.scratch(4, 'points:unused');
  const unusedOut = rec.scratch(4, 'points:unused-out');
  rec.dispatch(pointsSpec, 'cell_points', [indices, counts ?? unused, unused, unusedOut, points, out], grid(B * n, pointsSpec.workgroupSize), [
    u32(n),
    u32(B),
    u32(G),
    u32(0),
    u32(counts ? 1 : 0),
    u32(0),
    u32(0),
    u32(0),
  ]);
  return { points, counts: out };
}
