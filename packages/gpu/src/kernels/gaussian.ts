/** GPU wrapper of kernels/gaussian.wgsl. */
import { gaussianRadius, validateGaussian } from '../reference/gaussian.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import { f32, u32 } from '../uniforms.ts';

export const gaussianSpec: KernelSpec = {
  name: 'gaussian',
  bindings: ['uniform', 'read', 'storage'],
  workgroupSize: 64,
};

export function recordGaussian(rec: Recorder, maps: Slot, s: ImageShape, sigma: number): Slot {
  const count = s.B * s.H * s.W;
  const tmp = rec.scratch(count * 4, 'gaussian:rows');
  const out = rec.scratch(count * 4, 'gaussian:out');
  const params = [u32(s.H), u32(s.W), u32(s.B), u32(gaussianRadius(sigma)), f32(sigma), u32(0), u32(0), u32(0)];
  const g = grid(count, gaussianSpec.workgroupSize);
  rec.dispatch(gaussianSpec, 'blur_x', [maps, tmp], g, params);
  rec.dispatch(gaussianSpec, 'blur_y', [tmp, out], g, params);
  return out;
}

export async function gaussianGpu(rt: GpuRuntime, maps: Float32Array, s: ImageShape, sigma: number): Promise<Float32Array> {
  validateGaussian(maps, s, sigma);
  const rec = rt.recorder('gaussian');
  const read = rec.read(recordGaussian(rec, rec.upload(maps, 'gaussian:in'), s, sigma), Float32Array);
  await rec.submit();
  return read.value!;
}
