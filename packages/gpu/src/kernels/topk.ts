/** GPU wrapper of kernels/topk.wgsl. */
import type { RowsShape } from '../reference/moments.ts';
import { validateTopK, type TopK } from '../reference/topk.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import { u32 } from '../uniforms.ts';

export const topkSpec: KernelSpec = {
  name: 'topk',
  bindings: ['uniform', 'read', 'storage', 'storage'],
  workgroupSize: 256,
};

/** Padded row length: a power of two, at least one workgroup block (2·WG pairs). */
export function topkRowLength(N: number): number {
  let P = 2 * topkSpec.workgroupSize;
  while (P < N) P *= 2;
  return P;
}

/** Records the sort; each row of `vals`/`idx` ([B][P]) then starts with its top values. */
export function recordTopK(rec: Recorder, values: Slot, { B, N }: RowsShape): { vals: Slot; idx: Slot; P: number } {
  const wg = topkSpec.workgroupSize;
  const P = topkRowLength(N);
  const block = 2 * wg;
  const vals = rec.scratch(B * P * 4, 'topk:values');
  const idx = rec.scratch(B * P * 4, 'topk:indices');
  const bindings = [values, vals, idx];
  const params = (k: number, j: number) => [u32(N), u32(P), u32(B), u32(k), u32(j), u32(0), u32(0), u32(0)];
  rec.dispatch(topkSpec, 'init', bindings, grid(B * P, wg), params(0, 0));
  rec.dispatch(topkSpec, 'sort_blocks', bindings, [P / block, B], params(0, 0));
  for (let k = 2 * block; k <= P; k *= 2) {
    for (let j = k / 2; j >= block; j /= 2) {
      rec.dispatch(topkSpec, 'global_step', bindings, [Math.ceil(P / 2 / wg), B], params(k, j));
    }
    rec.dispatch(topkSpec, 'merge_blocks', bindings, [P / block, B], params(k, 0));
  }
  return { vals, idx, P };
}

export async function topkGpu(rt: GpuRuntime, values: Float32Array, s: RowsShape, k: number): Promise<TopK[]> {
  validateTopK(values, s, k);
  const rec = rt.recorder('topk');
  const { vals, idx, P } = recordTopK(rec, rec.upload(values, 'topk:input'), s);
  // Only the first k of each row come back.
  const reads = Array.from({ length: s.B }, (_, b) => ({
    values: rec.read(vals, Float32Array, k * 4, b * P * 4),
    indices: rec.read(idx, Uint32Array, k * 4, b * P * 4),
  }));
  await rec.submit();
  return reads.map((r) => ({ values: r.values.value!, indices: r.indices.value! }));
}
