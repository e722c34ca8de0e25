/** GPU wrapper of kernels/features.wgsl: the weight-free appearance encoder in one submission. */
import { validateAppearance, type AppearanceSpec } from '../reference/features.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';
import { recordGaussian } from './gaussian.ts';
import { recordMoments } from './moments.ts';

export const featuresSpec: KernelSpec = {
  name: 'features',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 64,
};

/** Records blur → local statistics → standardisation; returns [B][2·S][h·w]. */
export function recordAppearance(rec: Recorder, slices: Slot, s: ImageShape, spec: AppearanceSpec): Slot {
  const C = 2 * spec.sigmas.length;
  const cells = (s.H / spec.pool) * (s.W / spec.pool);
  const pre = spec.prePool ?? 1;
  const small = { B: s.B, H: s.H / pre, W: s.W / pre };
  const wg = featuresSpec.workgroupSize;
  const out = rec.scratch(s.B * C * cells * 4, 'features:out');
  const params = (shape: ImageShape, pool: number, channel: number) => [
    u32(shape.H),
    u32(shape.W),
    u32(shape.B),
    u32(pool),
    u32(C),
    u32(channel),
    u32(0),
    u32(0),
  ];
  let image = slices;
  if (pre > 1) image = recordShrink(rec, slices, s, pre);
  const squares = rec.scratch(s.B * small.H * small.W * 4, 'features:squares');
  rec.dispatch(featuresSpec, 'square', [image, image, squares], grid(s.B * small.H * small.W, wg), params(small, 1, 0));
  spec.sigmas.forEach((sigma, k) => {
    const g = recordGaussian(rec, image, small, sigma / pre);
    const q = recordGaussian(rec, squares, small, sigma / pre);
    rec.dispatch(featuresSpec, 'local_stats', [g, q, out], grid(s.B * cells, wg), params(small, spec.pool / pre, 2 * k));
  });
  const stats = recordMoments(rec, out, null, { B: s.B * C, N: cells });
  rec.dispatch(featuresSpec, 'standardize', [stats, stats, out], grid(s.B * C * cells, wg), params(s, spec.pool, 0));
  return out;
}

export async function appearanceGpu(rt: GpuRuntime, slices: Float32Array, s: ImageShape, spec: AppearanceSpec): Promise<Float32Array> {
  validateAppearance(slices, s, spec);
  const rec = rt.recorder('features');
  const read = rec.read(recordAppearance(rec, rec.upload(slices, 'features:slices'), s, spec), Float32Array);
  await rec.submit();
  return read.value!;
}

/** The position encoder's grids: `appearance` ([B][C][cells]) times `weight`, then `position` ([Cp][cells]). */
export function recordStackPosition(
  rec: Recorder,
  appearance: Slot,
  position: Slot,
  { B, C, N }: { B: number; C: number; N: number },
  Cp: number,
  weight: number,
): DeviceTensor {
  const out = rec.scratch(B * (C + Cp) * N * 4, 'features:position-grids', false, 'f32', [B, C + Cp, N]);
  rec.dispatch(featuresSpec, 'stack_position', [appearance, position, out], grid(B * (C + Cp) * N, featuresSpec.workgroupSize), [
    u32(1),
    u32(N),
    u32(B),
    u32(1),
    u32(C),
    u32(Cp),
    f32(weight),
    u32(0),
  ]);
  return out;
}

/** Area average by `factor` (the encoder's and the decoder's shrinking). */
export function recordShrink(rec: Recorder, maps: Slot, s: ImageShape, factor: number): DeviceTensor {
  const count = s.B * (s.H / factor) * (s.W / factor);
  const out = rec.scratch(count * 4, 'features:shrunk', false, 'f32', [s.B, (s.H / factor) * (s.W / factor)]);
  rec.dispatch(featuresSpec, 'shrink', [maps, maps, out], grid(count, featuresSpec.workgroupSize), [
    u32(s.H),
    u32(s.W),
    u32(s.B),
    u32(factor),
    u32(0),
    u32(0),
    u32(0),
    u32(0),
  ]);
  return out;
}
