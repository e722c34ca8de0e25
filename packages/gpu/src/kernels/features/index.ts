/**
 * features (kernels/features.wgsl): the weight-free encoders' channels on the device. `appearance`:
 * for each scale σ the local mean and local standard deviation of the slice (from blurred I and
 * I²), area-pooled onto the feature grid and standardised per channel; `stackPosition`: those
 * channels, weighted, with the absolute-position channels after them.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid, type Recorder } from '../../runtime.ts';
import { length, positiveInt, ShapeError, type FeatureShape, type ImageShape } from '../../shapes.ts';
import { HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { gaussianSpec, recordGaussian } from '../gaussian/index.ts';
import { momentsSpec, recordMoments } from '../moments/index.ts';
import { appearanceReference, FEATURE_EPS, validateAppearance, type AppearanceSpec } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = { name: 'features', bindings: ['uniform', 'read', 'read', 'storage'], workgroupSize: 64, constants: { EPS: FEATURE_EPS } };

const params = (s: ImageShape, pool: number, C: number, channel: number) => [u32(s.H), u32(s.W), u32(s.B), u32(pool), u32(C), u32(channel), u32(0), u32(0)];

/** Area average by `factor` (the encoder's pre-pooling). */
function recordShrink(rec: Recorder, maps: DeviceTensor, s: ImageShape, factor: number): DeviceTensor<'f32'> {
  const plane = (s.H / factor) * (s.W / factor);
  const out = rec.tensor('f32', [s.B, plane], 'features:shrunk');
  rec.dispatch(spec, 'shrink', [maps, maps, out], grid(s.B * plane, spec.workgroupSize), [
    ...[u32(s.H), u32(s.W), u32(s.B), u32(factor)],
    ...[u32(0), u32(0), u32(0), u32(0)],
  ]);
  return out;
}

export type AppearanceParams = ImageShape & AppearanceSpec;

/** Slices [B][H·W] → standardised channels [B][2·S][cells], cells = (H / pool)·(W / pool), in one submission. */
export const appearance = defineKernel<{ slices: T<'f32'> }, AppearanceParams, T<'f32'>>({
  name: 'appearance',
  shaders: [spec, gaussianSpec, momentsSpec],
  validate: ({ slices }, s) => validateAppearance(slices, s, s),
  record(ctx, { slices }, s) {
    const { rec } = ctx;
    const C = 2 * s.sigmas.length;
    const cells = (s.H / s.pool) * (s.W / s.pool);
    const pre = s.prePool ?? 1;
    const small = { B: s.B, H: s.H / pre, W: s.W / pre };
    const wg = spec.workgroupSize;
    const out = rec.tensor('f32', [s.B, C, cells], 'features:out');
    const image = pre > 1 ? recordShrink(rec, slices, s, pre) : slices;
    const squares = rec.tensor('f32', [s.B, small.H * small.W], 'features:squares');
    rec.dispatch(spec, 'square', [image, image, squares], grid(s.B * small.H * small.W, wg), params(small, 1, C, 0));
    s.sigmas.forEach((sigma, k) => {
      const g = recordGaussian(rec, image, { ...small, sigma: sigma / pre });
      const q = recordGaussian(rec, squares, { ...small, sigma: sigma / pre });
      rec.dispatch(spec, 'local_stats', [g, q, out], grid(s.B * cells, wg), params(small, s.pool / pre, C, 2 * k));
    });
    const stats = recordMoments(ctx, out, null, { B: s.B * C, N: cells });
    rec.dispatch(spec, 'standardize', [stats, stats, out], grid(s.B * C * cells, wg), params(s, s.pool, C, 0));
    return out;
  },
  reference({ slices }, s) {
    const cells = (s.H / s.pool) * (s.W / s.pool);
    return new HostTensor('f32', [s.B, 2 * s.sigmas.length, cells], appearanceReference(slices.data, s, s));
  },
});

export interface StackPositionParams extends FeatureShape {
  /** Position channels. */
  Cp: number;
  /** The appearance channels' weight. */
  weight: number;
}

/** Appearance [B][C][N] × weight, then the shared position channels [Cp][N]: the position-aware grids [B][C + Cp][N]. */
export const stackPosition = defineKernel<{ appearance: T<'f32'>; position: T<'f32'> }, StackPositionParams, T<'f32'>>({
  name: 'stackPosition',
  shaders: [spec],
  validate({ appearance: a, position }, { B, C, N, Cp, weight }) {
    for (const [name, v] of [
      ['B', B],
      ['C', C],
      ['N', N],
      ['Cp', Cp],
    ] as const)
      positiveInt('features', name, v);
    if (!Number.isFinite(weight)) throw new ShapeError('features', `the weight must be finite, got ${weight}`);
    length('features', 'appearance', a, B * C * N);
    length('features', 'position', position, Cp * N);
  },
  record({ rec }, { appearance: a, position }, { B, C, N, Cp, weight }) {
    const out = rec.tensor('f32', [B, C + Cp, N], 'features:position-grids');
    const p = [u32(1), u32(N), u32(B), u32(1), u32(C), u32(Cp), f32(weight), u32(0)];
    rec.dispatch(spec, 'stack_position', [a, position, out], grid(B * (C + Cp) * N, spec.workgroupSize), p);
    return out;
  },
  reference({ appearance: a, position }, { B, C, N, Cp, weight }) {
    const out = new Float32Array(B * (C + Cp) * N);
    for (let b = 0; b < B; b++) {
      const o = b * (C + Cp) * N;
      const src = a.data.subarray(b * C * N, (b + 1) * C * N);
      for (let i = 0; i < src.length; i++) out[o + i] = src[i]! * weight;
      out.set(position.data, o + C * N);
    }
    return new HostTensor('f32', [B, C + Cp, N], out);
  },
});
