/** GPU wrapper of kernels/area.wgsl: probabilities to a mask whose area follows a target. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { AreaThresholdOptions } from '../reference/area.ts';
import type { Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const areaSpec: KernelSpec = {
  name: 'area',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 256,
};

/** [B][P] values and [B] target areas → a [B][P] mask; one workgroup per row. */
export function recordAreaThreshold(rec: Recorder, values: Slot, targets: Slot, { B, P }: { B: number; P: number }, o: AreaThresholdOptions): DeviceTensor {
  const out = rec.scratch(B * P * 4, 'area:mask', false, 'mask', [B, P]);
  rec.dispatch(areaSpec, 'area', [values, targets, out], [B], [u32(P), u32(B), f32(o.lo), f32(o.hi), f32(o.fallback), u32(0), u32(0), u32(0)]);
  return out;
}
