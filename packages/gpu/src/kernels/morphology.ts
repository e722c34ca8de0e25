/** GPU wrapper of kernels/morphology.wgsl. */
import { validateMorphology, type MorphologyOp, type StructuringElement } from '../reference/morphology.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import { u32 } from '../uniforms.ts';
import { maskToU32, u32ToMask } from './upload.ts';

export const morphologySpec: KernelSpec = {
  name: 'morphology',
  bindings: ['uniform', 'read', 'storage'],
  workgroupSize: 64,
};

export function recordMorphology(rec: Recorder, masks: Slot, { B, H, W }: ImageShape, op: MorphologyOp, element: StructuringElement): Slot {
  const out = rec.scratch(B * H * W * 4, `morphology:${op}`);
  rec.dispatch(morphologySpec, 'main', [masks, out], grid(B * H * W, morphologySpec.workgroupSize), [
    u32(H),
    u32(W),
    u32(B),
    u32(element.radius),
    u32(element.shape === 'disc' ? 1 : 0),
    u32(op === 'dilate' ? 1 : 0),
    u32(0),
    u32(0),
  ]);
  return out;
}

/** Opening: erosion then dilation, both in one submission. */
export function recordOpening(rec: Recorder, masks: Slot, shape: ImageShape, element: StructuringElement): Slot {
  return recordMorphology(rec, recordMorphology(rec, masks, shape, 'erode', element), shape, 'dilate', element);
}

export async function morphologyGpu(rt: GpuRuntime, masks: Uint8Array, shape: ImageShape, op: MorphologyOp, element: StructuringElement): Promise<Uint8Array> {
  validateMorphology(masks, shape, element);
  const rec = rt.recorder('morphology');
  const read = rec.read(recordMorphology(rec, rec.upload(maskToU32(masks), 'morphology:in'), shape, op, element), Uint32Array);
  await rec.submit();
  return u32ToMask(read.value!);
}
