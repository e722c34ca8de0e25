/**
 * components (kernels/components.wgsl): connected-component labelling of B masks (union–find with
 * atomicMin links, so every root is its component's first pixel whatever the thread timing), with
 * each component's size and the exact fixed-point sum of a value map over it (NRM's scores).
 */
import { defineKernel, type RecordContext } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid } from '../../runtime.ts';
import type { ImageShape } from '../../shapes.ts';
import { HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { u32 } from '../../uniforms.ts';
import { componentLabelsReference, NO_COMPONENT, validateComponents, type Connectivity } from './reference.ts';

export * from './reference.ts';

/** Fixed point of the sums: each value becomes round(v / max|v| · FIXED_ONE), exact in i32. */
export const FIXED_ONE = 2 ** 23;

export const componentsSpec: KernelSpec = {
  name: 'components',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { FIXED_ONE, NONE: NO_COMPONENT },
};

export interface ComponentsParams extends ImageShape {
  connectivity: Connectivity;
}

/** What the labelling leaves on the device. */
export interface ComponentBuffers {
  /** [B][P] per pixel, its component's root (first pixel, row-major) or NO_COMPONENT. */
  roots: DeviceTensor<'u32'>;
  /** [B][P] per root, the component's size. */
  sizes: DeviceTensor<'u32'>;
  /** [B][P][2] per root, the fixed-point sum as (lo, hi) u32 words. */
  sums: DeviceTensor<'u32'>;
  /** [B] per slice, max |value| over the foreground as f32 bits (the fixed-point scale). */
  maxAbs: DeviceTensor<'u32'>;
}

/** Records the labelling, sizes and sums of `values` (zeros when null) over B masks. */
export function recordComponents({ rec }: RecordContext, masks: DeviceTensor, values: DeviceTensor | null, s: ComponentsParams): ComponentBuffers {
  const P = s.H * s.W;
  const roots = rec.tensor('u32', [s.B, P], 'components:roots');
  const sizes = rec.tensor('u32', [s.B, P], 'components:sizes', true);
  const sums = rec.tensor('u32', [s.B, P, 2], 'components:sums', true);
  const maxAbs = rec.tensor('u32', [s.B], 'components:max-abs', true);
  const bindings = [masks, values ?? rec.tensor('f32', [s.B, P], 'components:no-values', true), roots, sizes, sums, maxAbs];
  const params = [u32(s.H), u32(s.W), u32(s.B), u32(s.connectivity === 8 ? 1 : 0)];
  const g = grid(s.B * P, componentsSpec.workgroupSize);
  for (const entry of ['init', 'merge', 'compress', 'accumulate']) rec.dispatch(componentsSpec, entry, bindings, g, params);
  return { roots, sizes, sums, maxAbs };
}

/** Masks [B][H·W] → per pixel its component's root [B][P], and per root its size [B][P]. */
export const components = defineKernel<{ masks: T<'mask'> }, ComponentsParams, { roots: T<'u32'>; sizes: T<'u32'> }>({
  name: 'components',
  shaders: [componentsSpec],
  validate: ({ masks }, s) => validateComponents(masks, null, s, s.connectivity),
  record(ctx, { masks }, s) {
    const { roots, sizes } = recordComponents(ctx, masks, null, s);
    return { roots, sizes };
  },
  reference({ masks }, s) {
    const { roots, sizes } = componentLabelsReference(masks.data, s, s.connectivity);
    const shape = [s.B, s.H * s.W];
    return { roots: new HostTensor('u32', shape, roots), sizes: new HostTensor('u32', shape, sizes) };
  },
});
