/** GPU wrapper of kernels/synergy.wgsl. */
import { validateSynergy, type SynergyWeights } from '../reference/synergy.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import { f32, u32 } from '../uniforms.ts';

export const synergySpec: KernelSpec = {
  name: 'synergy',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 64,
};

export function recordSynergy(rec: Recorder, a: Slot, b: Slot, count: number, w: SynergyWeights): Slot {
  const out = rec.scratch(count * 4, 'synergy:out');
  rec.dispatch(synergySpec, 'main', [a, b, out], grid(count, synergySpec.workgroupSize), [u32(count), f32(w.both), f32(w.sam), f32(w.dino)]);
  return out;
}

export async function synergyGpu(rt: GpuRuntime, a: Float32Array, b: Float32Array, w: SynergyWeights): Promise<Float32Array> {
  validateSynergy(a, b, w);
  const rec = rt.recorder('synergy');
  const read = rec.read(recordSynergy(rec, rec.upload(a, 'synergy:a'), rec.upload(b, 'synergy:b'), a.length, w), Float32Array);
  await rec.submit();
  return read.value!;
}
