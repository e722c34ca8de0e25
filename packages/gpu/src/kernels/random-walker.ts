/**
 * GPU wrapper of kernels/random-walker.wgsl: the whole solve recorded on the device (edge scale,
 * setup, CG rounds), with one small readback of the per-slice done flags now and then
 * (RANDOM_WALKER_CHECKS) to stop once every slice has converged.
 */
import { validateRandomWalker, type RandomWalkerOptions, type RandomWalkerResult } from '../reference/random-walker.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import type { GpuRuntime, Readback, Recorder } from '../runtime.ts';
import type { ImageShape } from '../shapes.ts';
import type { DeviceTensor } from '../tensor.ts';
import { f32, u32 } from '../uniforms.ts';
import { recordMoments } from './moments.ts';
import { maskToU32 } from './upload.ts';

export const randomWalkerSpec: KernelSpec = {
  name: 'random-walker',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 256,
};

/**
 * When the host reads the done flags: after the first `first` CG iterations, then every `every`.
 * The weight-free decoder's solves converge in about 30–40 iterations, so one check usually ends
 * the solve; iterations recorded past a slice's convergence cost a dispatch each and no work.
 */
export const RANDOM_WALKER_CHECKS = { first: 40, every: 20 } as const;

export interface RandomWalkerSolve {
  /** [B][H·W] foreground probability in [0, 1] (the first plane of the solver's vectors). */
  probability: DeviceTensor;
  /** CG iterations per slice (checked solves; empty for a solve recorded ahead). */
  iterations: number[];
  /** A solve recorded ahead: its [B][8] scalars, read with the next flush (index 6: done). */
  flags?: Readback<Float32Array>;
}

/**
 * Records the solve on `rec` and flushes it at the checks until every slice has
 * converged (or `maxIterations`). `seeds` are u32 (0 none, 1 foreground, 2 background).
 * `mode` 'ahead' records only the first `checks.first` iterations, flushes nothing, and returns
 * the scalars as a readback the next flush fills: the caller learns then whether every slice
 * converged (the stream's speculative mode).
 */
export async function solveRandomWalker(
  rec: Recorder,
  image: Slot,
  seeds: Slot,
  prior: Slot,
  { B, H, W }: ImageShape,
  o: RandomWalkerOptions,
  checks: { first: number; every: number } = RANDOM_WALKER_CHECKS,
  mode: 'checked' | 'ahead' = 'checked',
): Promise<RandomWalkerSolve> {
  const plane = H * W;
  const wg = randomWalkerSpec.workgroupSize;
  const blocks = Math.ceil(plane / wg);
  const stats = recordMoments(rec, image, null, { B, N: plane });
  const vectors = rec.scratch(9 * B * plane * 4, 'random-walker:vectors');
  const scalars = rec.scratch(8 * B * 4, 'random-walker:scalars');
  const partials = rec.scratch(Math.max(2 * B * blocks, 3 * B) * 4, 'random-walker:partials');
  rec.copy(stats, 0, partials, 0, 3 * B * 4);
  const bindings = [image, seeds, prior, vectors, scalars, partials];
  const params = (mode: number) => [u32(H), u32(W), u32(B), u32(blocks), f32(o.gamma), f32(o.tolerance ** 2), u32(mode), f32(o.beta)];
  const tiles: [number, number] = [blocks, B];
  const run = (entry: string, mode = 0) => rec.dispatch(randomWalkerSpec, entry, bindings, entry === 'reduce' || entry === 'scale' ? [B] : tiles, params(mode));
  run('scale');
  run('edges');
  run('setup');
  run('reduce', 0);
  run('matvec', 0);
  run('residual');
  run('reduce', 1);
  let state: Float32Array | null = null;
  for (let it = 0; it < o.maxIterations;) {
    const chunk = Math.min(it === 0 ? checks.first : checks.every, o.maxIterations - it);
    it += chunk;
    for (let k = 0; k < chunk; k++) {
      run('matvec', 1);
      run('dot_pq');
      run('reduce', 2);
      run('update_x');
      run('reduce', 3);
      run('update_p');
    }
    if (mode === 'ahead') break;
    state = await rec.download(scalars, Float32Array);
    if (state.every((v, i) => i % 8 !== 6 || v !== 0)) break;
  }
  if (mode === 'ahead') {
    // Converged slices skip every update, so the flags are read after the clamp with no harm;
    // a chain whose solve did not converge is run again checked (see GpuStreamOptions).
    run('clamp_x');
    return { probability: rec.keep(vectors, 'f32', [B, plane]), iterations: [], flags: rec.read(scalars, Float32Array) };
  }
  run('clamp_x');
  return {
    probability: rec.keep(vectors, 'f32', [B, plane]),
    iterations: Array.from({ length: B }, (_, b) => state![8 * b + 1]!),
  };
}

export async function randomWalkerGpu(
  rt: GpuRuntime,
  image: Float32Array,
  seeds: Uint8Array,
  prior: Float32Array,
  shape: ImageShape,
  o: RandomWalkerOptions,
): Promise<RandomWalkerResult> {
  validateRandomWalker(image, seeds, prior, shape, o);
  const rec = rt.recorder('random-walker');
  try {
    const solve = await solveRandomWalker(
      rec,
      rec.upload(image, 'random-walker:image'),
      rec.upload(maskToU32(seeds), 'random-walker:seeds'),
      rec.upload(prior, 'random-walker:prior'),
      shape,
      o,
    );
    const x = await rec.download(solve.probability, Float32Array, shape.B * shape.H * shape.W * 4);
    solve.probability.release();
    return { probability: x, iterations: solve.iterations };
  } finally {
    rec.end();
  }
}
