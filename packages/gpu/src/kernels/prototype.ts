/** GPU wrapper of kernels/prototype.wgsl. */
import { validatePrototype } from '../reference/prototype.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { FeatureShape } from '../shapes.ts';
import { u32 } from '../uniforms.ts';
import { maskToU32 } from './upload.ts';

export const prototypeSpec: KernelSpec = {
  name: 'prototype',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
};

/** Records the prototype of each of B grids; returns the [B][C] prototype buffer. */
export function recordPrototype(rec: Recorder, feats: Slot, mask: Slot, { B, C, N }: FeatureShape): Slot {
  const invNorm = rec.scratch(B * N * 4, 'prototype:inv-norm');
  const proto = rec.scratch(B * C * 4, 'prototype:out');
  const params = [u32(C), u32(N), u32(B), u32(0)];
  const wg = prototypeSpec.workgroupSize;
  rec.dispatch(prototypeSpec, 'cell_norms', [feats, mask, invNorm, proto], grid(B * N, wg), params);
  rec.dispatch(prototypeSpec, 'main', [feats, mask, invNorm, proto], [C, B], params);
  return proto;
}

export async function prototypeGpu(rt: GpuRuntime, feats: Float32Array, masks: Uint8Array, shape: FeatureShape): Promise<Float32Array> {
  validatePrototype(feats, masks, shape);
  const rec = rt.recorder('prototype');
  const out = rec.read(recordPrototype(rec, rec.upload(feats, 'prototype:features'), rec.upload(maskToU32(masks), 'prototype:mask'), shape), Float32Array);
  await rec.submit();
  return out.value!;
}
