/**
 * random-walker (kernels/random-walker.wgsl): the weight-free promptable decoder, Grady's random
 * walker with priors solved by Jacobi-preconditioned conjugate gradients for B slices at once. The
 * whole solve is recorded on the device (edge scale, setup, CG rounds), with one small readback of
 * the slices' done flags now and then (RANDOM_WALKER_CHECKS) to stop once every slice converged;
 * a speculative stream records the first rounds only and reads the flags with its next submission.
 */
import { defineSolver, type RecordContext } from '../../kernel-def.ts';
import type { KernelSpec } from '../../pipeline-cache.ts';
import type { ImageShape } from '../../shapes.ts';
import { HostTensor, type DeviceTensor, type T } from '../../tensor.ts';
import { f32, u32 } from '../../uniforms.ts';
import { momentsSpec, recordMoments } from '../moments/index.ts';
import { randomWalkerReference, SEED_FOREGROUND, SEED_NONE, validateRandomWalker, type RandomWalkerOptions } from './reference.ts';

export * from './reference.ts';

const spec: KernelSpec = {
  name: 'random-walker',
  bindings: ['uniform', 'read', 'read', 'read', 'storage', 'storage', 'storage'],
  workgroupSize: 256,
  constants: { SEED_NONE, SEED_FOREGROUND },
};

/**
 * When the host reads the done flags: after the first `first` CG iterations, then every `every`.
 * The weight-free decoder's solves converge in about 30–40 iterations, so one check usually ends
 * the solve; iterations recorded past a slice's convergence cost a dispatch each and no work.
 */
export const RANDOM_WALKER_CHECKS = { first: 40, every: 20 } as const;

export type RandomWalkerParams = ImageShape & RandomWalkerOptions;

/** Records the solve; returns the probability [B][H·W] once every slice converged (or, ahead, after the first rounds). */
async function solve(ctx: RecordContext, image: DeviceTensor, seeds: DeviceTensor, prior: DeviceTensor, o: RandomWalkerParams): Promise<DeviceTensor<'f32'>> {
  const { rec } = ctx;
  const { B, H, W } = o;
  const plane = H * W;
  const blocks = Math.ceil(plane / spec.workgroupSize);
  const stats = recordMoments(ctx, image, null, { B, N: plane });
  const vectors = rec.tensor('f32', [10, B, plane], 'random-walker:vectors');
  const scalars = rec.tensor('f32', [B, 8], 'random-walker:scalars');
  // Per block: two partial sums, then its count of unseeded pixels (blocks with none skip the CG's sums).
  const partials = rec.tensor('f32', [Math.max(3 * B * blocks, 3 * B)], 'random-walker:partials');
  rec.copy(stats, 0, partials, 0, 3 * B * 4);
  const bindings = [image, seeds, prior, vectors, scalars, partials];
  const params = (mode: number) => [u32(H), u32(W), u32(B), u32(blocks), f32(o.gamma), f32(o.tolerance ** 2), u32(mode), f32(o.beta)];
  const tiles: [number, number] = [blocks, B];
  const run = (entry: string, mode = 0) => rec.dispatch(spec, entry, bindings, entry === 'reduce' || entry === 'scale' ? [B] : tiles, params(mode));
  run('scale');
  run('edges');
  run('setup');
  run('reduce', 0);
  run('matvec');
  run('residual');
  run('reduce', 1);
  for (let it = 0; it < o.maxIterations;) {
    const chunk = Math.min(it === 0 ? RANDOM_WALKER_CHECKS.first : RANDOM_WALKER_CHECKS.every, o.maxIterations - it);
    for (let k = 0; k < chunk; k++, it++) {
      // The A·p pass makes the new p too, alternating between the two p planes (mode: which is old).
      run('matvec_dot', it % 2);
      run('reduce', 2);
      run('update_x', it % 2);
      run('reduce', 3);
    }
    if (ctx.speculative) break;
    const state = await rec.download(scalars, Float32Array);
    if (state.every((v, i) => i % 8 !== 6 || v !== 0)) break;
  }
  run('clamp_x');
  // Converged slices skip every update, so a speculative stream's flags are read after the clamp
  // with no harm; a chain whose solve did not converge is run again checked (see GpuStreamOptions).
  if (ctx.speculative) ctx.ahead(rec.read(scalars, Float32Array));
  // The probability is the first plane of the solver's vectors.
  return rec.keep(vectors, 'f32', [B, plane]);
}

/** Slices [B][H·W], seeds [B][H·W] (SEED_NONE, SEED_FOREGROUND, SEED_BACKGROUND) and a prior [B][H·W] → foreground probability [B][H·W]. */
export const randomWalker = defineSolver<{ image: T<'f32'>; seeds: T<'mask'>; prior: T<'f32'> }, RandomWalkerParams, T<'f32'>>({
  name: 'randomWalker',
  shaders: [spec, momentsSpec],
  validate: ({ image, seeds, prior }, o) => validateRandomWalker(image, seeds, prior, o, o),
  async record(ctx, { image, seeds, prior }, o) {
    return ctx.rec.adopt(await solve(ctx, image, seeds, prior, o)) as DeviceTensor<'f32'>;
  },
  reference: ({ image, seeds, prior }, o) =>
    new HostTensor('f32', [o.B, o.H * o.W], randomWalkerReference(image.data, seeds.data, prior.data, o, o).probability),
});
