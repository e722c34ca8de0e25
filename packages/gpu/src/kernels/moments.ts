/** GPU wrapper of kernels/moments.wgsl. */
import { validateMoments, type Moments, type RowsShape } from '../reference/moments.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime, Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';
import { maskToU32 } from './upload.ts';

export const momentsSpec: KernelSpec = {
  name: 'moments',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 256,
};

/**
 * Records (count, mean, std) per row into a [B][3] buffer; `mask` null means every value, and
 * `invert` takes the values where the mask is not set (a support's background).
 */
export function recordMoments(rec: Recorder, values: Slot, mask: Slot | null, { B, N }: RowsShape, invert = false): DeviceTensor {
  const out = rec.scratch(B * 3 * 4, 'moments:out', false, 'f32', [B, 3]);
  const maskSlot = mask ?? rec.scratch(4, 'moments:no-mask');
  rec.dispatch(momentsSpec, 'main', [values, maskSlot, out], [B], [u32(N), u32(B), u32(mask ? (invert ? 2 : 1) : 0), u32(0)]);
  return out;
}

export function unpackMoments(raw: Float32Array): Moments[] {
  const out: Moments[] = [];
  for (let b = 0; b < raw.length / 3; b++) out.push({ count: raw[3 * b]!, mean: raw[3 * b + 1]!, std: raw[3 * b + 2]! });
  return out;
}

export async function momentsGpu(rt: GpuRuntime, values: Float32Array, mask: Uint8Array | null, s: RowsShape): Promise<Moments[]> {
  validateMoments(values, mask, s);
  const rec = rt.recorder('moments');
  const maskSlot = mask ? rec.upload(maskToU32(mask), 'moments:mask') : null;
  const read = rec.read(recordMoments(rec, rec.upload(values, 'moments:values'), maskSlot, s), Float32Array);
  await rec.submit();
  return unpackMoments(read.value!);
}
