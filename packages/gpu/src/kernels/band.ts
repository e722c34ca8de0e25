/** GPU wrapper of kernels/band.wgsl. */
import { validateBand, type Bounds } from '../reference/band.ts';
import type { RowsShape } from '../reference/moments.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime, Recorder } from '../runtime.ts';
import { ShapeError } from '../shapes.ts';
import { u32 } from '../uniforms.ts';

/** Values per invocation (ITEMS in band.wgsl). */
const BAND_ITEMS = 16;

export const bandSpec: KernelSpec = {
  name: 'band',
  bindings: ['uniform', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 256,
};

/** Records the band compaction; `indices` holds each row's hits first, `counts` how many. */
export function recordBand(rec: Recorder, values: Slot, bounds: Slot, { B, N }: RowsShape): { indices: Slot; counts: Slot } {
  const blocks = Math.ceil(N / (bandSpec.workgroupSize * BAND_ITEMS));
  if (blocks > 65535) throw new ShapeError('band', `N = ${N} needs ${blocks} workgroups per row, over the 65,535 a dispatch allows`);
  const blockSums = rec.scratch(B * blocks * 4, 'band:block-sums');
  const counts = rec.scratch(B * 4, 'band:counts');
  const indices = rec.scratch(B * N * 4, 'band:indices');
  const params = [u32(N), u32(B), u32(blocks), u32(0)];
  const bindings = [values, bounds, blockSums, counts, indices];
  rec.dispatch(bandSpec, 'count_blocks', bindings, [blocks, B], params);
  rec.dispatch(bandSpec, 'scan_blocks', bindings, [B], params);
  rec.dispatch(bandSpec, 'scatter', bindings, [blocks, B], params);
  return { indices, counts };
}

export async function bandGpu(rt: GpuRuntime, values: Float32Array, bounds: Bounds, s: RowsShape): Promise<Uint32Array[]> {
  validateBand(values, bounds, s);
  const rec = rt.recorder('band');
  const { indices, counts } = recordBand(rec, rec.upload(values, 'band:values'), rec.upload(Float32Array.from(bounds.flat()), 'band:bounds'), s);
  const countRead = rec.read(counts, Uint32Array);
  const indexRead = rec.read(indices, Uint32Array);
  await rec.submit();
  return Array.from({ length: s.B }, (_, b) => indexRead.value!.slice(b * s.N, b * s.N + countRead.value![b]!));
}
