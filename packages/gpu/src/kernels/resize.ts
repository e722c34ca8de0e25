/** GPU wrappers of kernels/resize.wgsl. */
import { validateDownsampleMask, validateUpsample, type ResizeShape } from '../reference/resize.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import { u32, type UniformField } from '../uniforms.ts';
import { u32ToMask } from './upload.ts';

export const resizeSpec: KernelSpec = {
  name: 'resize',
  bindings: ['uniform', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 64,
};

const params = (s: ResizeShape): UniformField[] => [u32(s.B), u32(s.inH), u32(s.inW), u32(s.outH), u32(s.outW), u32(0), u32(0), u32(0)];

export function recordUpsampleBilinear(rec: Recorder, maps: Slot, s: ResizeShape): Slot {
  const count = s.B * s.outH * s.outW;
  const out = rec.scratch(count * 4, 'resize:upsampled');
  // The mask-only bindings are unused by this entry point; tiny placeholders fill the layout.
  const unusedCells = rec.scratch(4, 'resize:unused');
  const unusedFlags = rec.scratch(4, 'resize:unused');
  rec.dispatch(resizeSpec, 'upsample_bilinear', [maps, out, unusedCells, unusedFlags], grid(count, resizeSpec.workgroupSize), params(s));
  return out;
}

/** Records the mask downsampling; the masks are f32 0/1 values, the result u32 0/1 cells. */
export function recordDownsampleMask(rec: Recorder, masks: Slot, s: ResizeShape): { cells: Slot; fractions: Slot } {
  const count = s.B * s.outH * s.outW;
  const fractions = rec.scratch(count * 4, 'resize:fractions');
  const cells = rec.scratch(count * 4, 'resize:cells');
  const anyHalf = rec.scratch(s.B * 4, 'resize:any-half', true);
  const wg = resizeSpec.workgroupSize;
  rec.dispatch(resizeSpec, 'mask_area_fraction', [masks, fractions, cells, anyHalf], grid(count, wg), params(s));
  rec.dispatch(resizeSpec, 'mask_threshold', [masks, fractions, cells, anyHalf], grid(count, wg), params(s));
  return { cells, fractions };
}

export async function upsampleBilinearGpu(rt: GpuRuntime, maps: Float32Array, s: ResizeShape): Promise<Float32Array> {
  validateUpsample(maps, s);
  const rec = rt.recorder('resize');
  const read = rec.read(recordUpsampleBilinear(rec, rec.upload(maps, 'resize:maps'), s), Float32Array);
  await rec.submit();
  return read.value!;
}

export async function downsampleMaskGpu(rt: GpuRuntime, masks: Uint8Array, s: ResizeShape): Promise<Uint8Array> {
  validateDownsampleMask(masks, s);
  const rec = rt.recorder('resize');
  const { cells } = recordDownsampleMask(
    rec,
    rec.upload(
      Float32Array.from(masks, (m) => (m ? 1 : 0)),
      'resize:masks',
    ),
    s,
  );
  const read = rec.read(cells, Uint32Array);
  await rec.submit();
  return u32ToMask(read.value!);
}
