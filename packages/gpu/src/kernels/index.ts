/**
 * The kernel registry: every operation SynPo's pipeline runs after the encoders, each defined once
 * in its own folder (src/kernels/<name>/: index.ts the definition, reference.ts the CPU reference,
 * cases.ts its GPU-vs-reference cases) over its WGSL file in the repository's kernels/ folder.
 * Adding a kernel: its WGSL file, its folder, and one line in each list below (docs/architecture.md).
 *
 * This is the `@synpo/gpu/kernels` entry: the definitions (run them with `stream.run(def, …)` or
 * `kernels.run(def, …)`) and their references.
 */
import type { AnyKernelDef } from '../kernel-def.ts';
import { areaThreshold } from './area/index.ts';
import { band } from './band/index.ts';
import { promptRows } from './box/index.ts';
import { components } from './components/index.ts';
import { confidenceNaive } from './confidence-naive/index.ts';
import { confidence } from './confidence/index.ts';
import { appearance, stackPosition } from './features/index.ts';
import { gaussian } from './gaussian/index.ts';
import { guidePenalty, poolMask } from './guide/index.ts';
import { kmeans } from './kmeans/index.ts';
import { moments } from './moments/index.ts';
import { morphology } from './morphology/index.ts';
import { cellPoints, sampleRows } from './points/index.ts';
import { prepareSlices } from './prepare/index.ts';
import { prior } from './prior/index.ts';
import { decoderInputs } from './prompt/index.ts';
import { prototype } from './prototype/index.ts';
import { randomWalker } from './random-walker/index.ts';
import { bestComponent, keepRows, threshold } from './refine/index.ts';
import { downsampleMask, upsampleBilinear } from './resize/index.ts';
import { synergy } from './synergy/index.ts';
import { tokensToGrid } from './tokens/index.ts';
import { topk } from './topk/index.ts';

export * from './area/index.ts';
export * from './band/index.ts';
export * from './box/index.ts';
export * from './components/index.ts';
export * from './confidence-naive/index.ts';
export * from './confidence/index.ts';
export * from './features/index.ts';
export * from './gaussian/index.ts';
export * from './guide/index.ts';
export * from './kmeans/index.ts';
export * from './moments/index.ts';
export * from './morphology/index.ts';
export * from './points/index.ts';
export * from './prepare/index.ts';
export * from './prior/index.ts';
export * from './prompt/index.ts';
export * from './prototype/index.ts';
export * from './random-walker/index.ts';
export * from './refine/index.ts';
export * from './resize/index.ts';
export * from './synergy/index.ts';
export * from './tokens/index.ts';
export * from './topk/index.ts';

/** Every kernel by name, in the pipeline's order (preprocessing, encoders, CMSM, PSM, the decoder, NRM, propagation). */
export const KERNELS = {
  prepareSlices,
  appearance,
  stackPosition,
  gaussian,
  tokensToGrid,
  prototype,
  confidence,
  confidenceNaive,
  synergy,
  upsampleBilinear,
  downsampleMask,
  moments,
  band,
  topk,
  sampleRows,
  cellPoints,
  kmeans,
  promptRows,
  prior,
  decoderInputs,
  randomWalker,
  areaThreshold,
  threshold,
  morphology,
  components,
  bestComponent,
  keepRows,
  poolMask,
  guidePenalty,
} as const satisfies Record<string, AnyKernelDef>;

export type KernelName = keyof typeof KERNELS;
