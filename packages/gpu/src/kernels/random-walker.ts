/** GPU wrapper of kernels/random-walker.wgsl: CG rounds recorded in batches, no per-iteration readback. */
import { edgeScale, validateRandomWalker, type RandomWalkerOptions, type RandomWalkerResult } from '../reference/random-walker.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import { f32, u32 } from '../uniforms.ts';
import { maskToU32 } from './upload.ts';

export const randomWalkerSpec: KernelSpec = {
  name: 'random-walker',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 256,
};

/** CG iterations recorded per submission before the host checks whether all slices converged. */
const ITERATIONS_PER_CHECK = 50;

export async function randomWalkerGpu(
  rt: GpuRuntime,
  image: Float32Array,
  seeds: Uint8Array,
  prior: Float32Array,
  shape: ImageShape,
  o: RandomWalkerOptions,
): Promise<RandomWalkerResult> {
  validateRandomWalker(image, seeds, prior, shape, o);
  const { B, H, W } = shape;
  const plane = H * W;
  const wg = randomWalkerSpec.workgroupSize;
  const blocks = Math.ceil(plane / wg);
  const rec = rt.recorder('random-walker');
  const scalars = new Float32Array(8 * B);
  for (let b = 0; b < B; b++) scalars[8 * b + 7] = edgeScale(image.subarray(b * plane, (b + 1) * plane), o.beta);
  const bindings = [
    rec.upload(image, 'random-walker:image'),
    rec.upload(maskToU32(seeds), 'random-walker:seeds'),
    rec.upload(prior, 'random-walker:prior'),
    rec.scratch(9 * B * plane * 4, 'random-walker:vectors'),
    rec.upload(scalars, 'random-walker:scalars'),
    rec.scratch(2 * B * blocks * 4, 'random-walker:partials'),
  ];
  const params = (mode: number) => [u32(H), u32(W), u32(B), u32(blocks), f32(o.gamma), f32(o.tolerance ** 2), u32(mode), u32(0)];
  const tiles: [number, number] = [blocks, B];
  const run = (entry: string, mode = 0) => rec.dispatch(randomWalkerSpec, entry, bindings, entry === 'reduce' ? [B] : tiles, params(mode));
  run('edges');
  run('setup');
  run('reduce', 0);
  run('matvec', 0);
  run('residual');
  run('reduce', 1);
  let state = rec.read(bindings[4]!, Float32Array);
  await rec.flush();
  for (let it = 0; it < o.maxIterations; it += ITERATIONS_PER_CHECK) {
    if (state.value!.every((v, i) => i % 8 !== 6 || v !== 0)) break;
    for (let k = 0; k < Math.min(ITERATIONS_PER_CHECK, o.maxIterations - it); k++) {
      run('matvec', 1);
      run('dot_pq');
      run('reduce', 2);
      run('update_x');
      run('reduce', 3);
      run('update_p');
    }
    state = rec.read(bindings[4]!, Float32Array);
    await rec.flush();
  }
  const x = rec.read(bindings[3]!, Float32Array, B * plane * 4, 0);
  await rec.submit();
  const probability = x.value!.map((v) => Math.min(1, Math.max(0, v)));
  return { probability, iterations: Array.from({ length: B }, (_, b) => state.value![8 * b + 1]!) };
}
