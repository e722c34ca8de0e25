/** GPU wrappers of kernels/confidence.wgsl (fused) and kernels/confidence-naive.wgsl. */
import { validateConfidence, validateConfidenceNaive } from '../reference/confidence.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type GpuRuntime, type Recorder } from '../runtime.ts';
import type { FeatureShape } from '../shapes.ts';
import { u32 } from '../uniforms.ts';
import { maskIndices } from './upload.ts';

export const confidenceSpec: KernelSpec = {
  name: 'confidence',
  bindings: ['uniform', 'read', 'read', 'storage'],
  workgroupSize: 64,
};

export const confidenceNaiveSpec: KernelSpec = {
  name: 'confidence-naive',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage'],
  workgroupSize: 64,
};

/** Records S = F̂·t̄ for B grids; `shared` means one prototype for all of them. */
export function recordConfidence(rec: Recorder, feats: Slot, proto: Slot, { B, C, N }: FeatureShape, shared: boolean): Slot {
  const conf = rec.scratch(B * N * 4, 'confidence:out');
  rec.dispatch(confidenceSpec, 'main', [feats, proto, conf], grid(B * N, confidenceSpec.workgroupSize), [u32(C), u32(N), u32(B), u32(shared ? 0 : C)]);
  return conf;
}

/**
 * Fused confidence for B grids. Batches that exceed the device's largest storage binding are
 * split into chunks of whole grids, each its own submission.
 */
export async function confidenceGpu(rt: GpuRuntime, feats: Float32Array, protos: Float32Array, shape: FeatureShape): Promise<Float32Array> {
  validateConfidence(feats, protos, shape);
  const { B, C, N } = shape;
  const shared = protos.length === C;
  const perGrid = C * N * 4;
  const chunk = Math.max(1, Math.min(B, Math.floor(rt.maxBindingBytes / perGrid)));
  const out = new Float32Array(B * N);
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const nb = Math.min(chunk, B - b0);
    const rec = rt.recorder('confidence');
    const featSlot = rec.upload(feats.subarray(b0 * C * N, (b0 + nb) * C * N), 'confidence:features');
    const protoSlot = rec.upload(shared ? protos : protos.subarray(b0 * C, (b0 + nb) * C), 'confidence:prototype');
    const read = rec.read(recordConfidence(rec, featSlot, protoSlot, { B: nb, C, N }, shared), Float32Array);
    await rec.submit();
    out.set(read.value!, b0 * N);
  }
  return out;
}

/** `supportN` is the support grid's cell count (SynPo: the same N as the query grids). */
export function recordConfidenceNaive(rec: Recorder, query: Slot, support: Slot, fg: Slot, n: number, { B, C, N }: FeatureShape, supportN = N): Slot {
  const supInv = rec.scratch(n * 4, 'confidence-naive:support-norms');
  const conf = rec.scratch(B * N * 4, 'confidence-naive:out');
  const params = [u32(C), u32(N), u32(B), u32(n), u32(supportN), u32(0), u32(0), u32(0)];
  const wg = confidenceNaiveSpec.workgroupSize;
  const bindings = [query, support, fg, supInv, conf];
  rec.dispatch(confidenceNaiveSpec, 'support_norms', bindings, [Math.ceil(n / wg)], params);
  rec.dispatch(confidenceNaiveSpec, 'main', bindings, grid(B * N, wg), params);
  return conf;
}

export async function confidenceNaiveGpu(
  rt: GpuRuntime,
  query: Float32Array,
  support: Float32Array,
  supportMask: Uint8Array,
  shape: FeatureShape,
): Promise<Float32Array> {
  validateConfidenceNaive(query, support, supportMask, shape);
  const fg = maskIndices(supportMask);
  const rec = rt.recorder('confidence-naive');
  const conf = recordConfidenceNaive(
    rec,
    rec.upload(query, 'confidence-naive:query'),
    rec.upload(support, 'confidence-naive:support'),
    rec.upload(fg, 'confidence-naive:fg'),
    fg.length,
    shape,
    supportMask.length,
  );
  const read = rec.read(conf, Float32Array);
  await rec.submit();
  return read.value!;
}
