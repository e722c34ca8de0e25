/** GPU wrapper of kernels/box.wgsl: the weight-free decoder's prompt rows from PSM's k-means centres. */
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { PromptRowsOptions, PromptRowsShape } from '../reference/box.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';

export const boxSpec: KernelSpec = {
  name: 'box',
  bindings: ['uniform', 'read', 'read', 'read', 'read', 'read', 'storage'],
  workgroupSize: 64,
};

/** [B][1 + Kn + Kp] vec4 prompt rows (see box.wgsl); `neg` null when Kn = 0, `extents` null for none. */
export function recordPromptRows(
  rec: Recorder,
  pos: { centres: Slot; sizes: Slot },
  neg: { centres: Slot; sizes: Slot } | null,
  extents: Slot | null,
  s: PromptRowsShape,
  o: PromptRowsOptions,
): DeviceTensor {
  const out = rec.scratch(s.B * (1 + s.Kn + s.Kp) * 16, 'box:rows', false, 'f32', [s.B, 1 + s.Kn + s.Kp, 4]);
  const unused = rec.scratch(8, 'box:unused');
  rec.dispatch(
    boxSpec,
    'rows',
    [pos.centres, pos.sizes, neg?.centres ?? unused, neg?.sizes ?? unused, extents ?? unused, out],
    grid(s.B, boxSpec.workgroupSize),
    [u32(s.B), u32(s.Kp), u32(s.Kn), u32(extents ? 1 : 0), f32(o.cell), f32(o.margin), f32(o.marginFactor), f32(o.extentFactor)],
  );
  return out;
}
