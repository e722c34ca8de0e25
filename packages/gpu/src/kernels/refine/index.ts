/**
 * refine (kernels/refine.wgsl): NRM's mask steps around the morphology and components kernels, on
 * the device: a decoder's probability to its mask, the component with the best mean confidence,
 * rows kept or cleared by a flag; and the packing that makes a mask's readback small.
 */
import { defineKernel } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import { grid, type Recorder } from '../../runtime.ts';
import { length, positiveInt, ShapeError } from '../../shapes.ts';
import { elementCount, HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { componentsReference, componentsSpec, NO_COMPONENT, recordComponents, validateComponents, type ComponentsParams } from '../components/index.ts';
import { bestComponentMaskReference, keepRowsReference, thresholdReference } from './reference.ts';

export * from './reference.ts';

export const refineSpec: KernelSpec = {
  name: 'refine',
  bindings: ['uniform', 'read', 'read', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
  constants: { NONE: NO_COMPONENT },
};

const params = (B: number, P: number, t = 0) => [u32(P), u32(B), f32(t), u32(0)];

/** Fillers for the bindings an entry point does not use: one read-only, one writable (never the same buffer). */
const placeholders = (rec: Recorder) => [rec.scratch(4, 'refine:unused'), rec.scratch(4, 'refine:unused-out')] as const;

const rowsOf = (t: T) => (t.shape.length > 1 ? t.shape[0]! : 1);

/** value > t → a mask of the values' shape. */
export const threshold = defineKernel<{ values: T<'f32'> }, number, T<'mask'>>({
  name: 'threshold',
  shaders: [refineSpec],
  validate(_, t) {
    if (!Number.isFinite(t)) throw new ShapeError('refine', `the threshold must be finite, got ${t}`);
  },
  record({ rec }, { values }, t) {
    const B = rowsOf(values);
    const out = rec.tensor('mask', values.shape, 'refine:mask');
    const [u, w] = placeholders(rec);
    rec.dispatch(refineSpec, 'threshold', [values, u, u, u, out, w], grid(values.size, refineSpec.workgroupSize), params(B, values.size / B, t));
    return out;
  },
  reference: ({ values }, t) => new HostTensor('mask', values.shape, thresholdReference(values.data, t)),
});

/**
 * Per slice of [B][H·W] masks, the component with the best mean of `values` (the first in
 * row-major order among equals) as a mask, and `found` [B]: its root, or NO_COMPONENT.
 */
export const bestComponent = defineKernel<{ masks: T<'mask'>; values: T<'f32'> }, ComponentsParams, { mask: T<'mask'>; found: T<'u32'> }>({
  name: 'bestComponent',
  shaders: [componentsSpec, refineSpec],
  validate: ({ masks, values }, s) => validateComponents(masks, values, s, s.connectivity),
  record(ctx, { masks, values }, s) {
    const { rec } = ctx;
    const P = s.H * s.W;
    const c = recordComponents(ctx, masks, values, s);
    const found = rec.tensor('u32', [s.B], 'refine:best');
    const mask = rec.tensor('mask', [s.B, P], 'refine:mask');
    const [u, w] = placeholders(rec);
    rec.dispatch(refineSpec, 'best_component', [u, c.roots, c.sizes, c.sums, w, found], [s.B], params(s.B, P));
    rec.dispatch(refineSpec, 'select_component', [u, c.roots, u, u, mask, found], grid(s.B * P, refineSpec.workgroupSize), params(s.B, P));
    return { mask, found };
  },
  reference({ masks, values }, s) {
    const P = s.H * s.W;
    const list = componentsReference(masks.data, values.data, s, s.connectivity);
    const r = bestComponentMaskReference(list, P);
    const found = Uint32Array.from(list, (c, b) => (r.found[b] ? c.components.reduce((a, x) => (x.mean > a.mean ? x : a)).first : NO_COMPONENT));
    return { mask: new HostTensor('mask', [s.B, P], r.masks), found: new HostTensor('u32', [s.B], found) };
  },
});

/** [B][P] masks where the row's `found` flag names a component, else cleared. */
export const keepRows = defineKernel<{ masks: T<'mask'>; found: T<'u32'> }, { B: number; P: number }, T<'mask'>>({
  name: 'keepRows',
  shaders: [refineSpec],
  validate({ masks, found }, { B, P }) {
    positiveInt('refine', 'B', B);
    positiveInt('refine', 'P', P);
    length('refine', 'masks', masks, B * P);
    length('refine', 'found', found, B);
  },
  record({ rec }, { masks, found }, { B, P }) {
    const out = rec.tensor('mask', [B, P], 'refine:kept');
    const [u, w] = placeholders(rec);
    rec.dispatch(refineSpec, 'keep_rows', [u, masks, found, u, out, w], grid(B * P, refineSpec.workgroupSize), params(B, P));
    return out;
  },
  reference: ({ masks, found }, { B, P }) => new HostTensor('mask', [B, P], keepRowsReference(masks.data, found.data, P)),
});

/** Values packed into u32 words, `perWord` to a word: 4 bytes (`pack`) or 32 bits (`pack_bits`). */
function recordPacking(rec: Recorder, values: DeviceTensor, count: number, perWord: 4 | 32): DeviceTensor<'u32'> {
  const words = Math.ceil(count / perWord);
  const out = rec.tensor('u32', [words], perWord === 4 ? 'refine:packed' : 'refine:bits');
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, perWord === 4 ? 'pack' : 'pack_bits', [u, values, u, u, out, w], grid(words, refineSpec.workgroupSize), params(1, count));
  return out;
}

/** Values 0…255 (one u32 each) packed four to a word, for a readback a quarter the size. */
export const recordPack = (rec: Recorder, values: DeviceTensor, count: number) => recordPacking(rec, values, count, 4);

/** Masks (u32) as bits, 32 to a word (bit k of word w: value 32·w + k is not 0): the smallest readback. */
export const recordPackBits = (rec: Recorder, values: DeviceTensor, count: number) => recordPacking(rec, values, count, 32);

/** A 0/1 mask (u32) as f32 0/1, for kernels that read masks as values (the mask resize). */
export function recordMaskToF32(rec: Recorder, masks: DeviceTensor): DeviceTensor<'f32'> {
  const n = elementCount(masks.shape);
  const out = rec.tensor('f32', masks.shape, 'refine:mask-f32');
  const [u, w] = placeholders(rec);
  rec.dispatch(refineSpec, 'mask_to_f32', [u, masks, u, u, out, w], grid(n, refineSpec.workgroupSize), params(1, n));
  return out;
}
