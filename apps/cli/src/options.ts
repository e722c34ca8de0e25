/**
 * The options several commands share, written once: where the kernels run, the models, and what
 * a case is segmented with (label map, band, intensity, seed, propagation). Commands import
 * these from here, never from main.ts, so the entry and the commands do not import each other.
 */
import { Option, type Command } from 'commander';
import { backendOptions } from './backend.ts';
import { DEFAULT_OPTIONS } from '@synpo/core';
import { defaultThreads } from '@synpo/core/node';
import { decimal, integer, jsonOverrides, SEED } from './numbers.ts';

// Commander hands each action its parsed arguments and options; each command types its own.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Runner = (action: (...args: any[]) => Promise<number>) => (...args: any[]) => Promise<void>;

export function deviceOption(): Option {
  return new Option('--device <path>', 'where the kernels run: auto (a WebGPU adapter if any, else CPU), gpu (fail without one), cpu')
    .choices(['auto', 'gpu', 'cpu'])
    .default('auto');
}

/** `--backend`, `--models`, `--ep`, `--weight-free`, `--cache-gb`. */
export function withBackend(cmd: Command): Command {
  for (const option of backendOptions()) cmd.addOption(option);
  return cmd;
}

export const labelsOption = () => new Option('--labels <map>', 'label map for organ names').choices(['chaos-t2', 'sabs-ct', 'totalseg']).default('chaos-t2');

export const bandOption = () =>
  new Option('--band <set>', "negative band: the paper's best for CHAOS-MRI ([μ, μ+1.5σ]) or Synapse-CT ([μ−σ, μ+0.5σ])")
    .choices(['chaos-t2', 'sabs-ct'])
    .default('chaos-t2');

export const intensityOption = () =>
  new Option('--intensity <mode>', 'intensity preprocessing: auto (HU → ct, else mr), ct (window [-125, 275]), mr (clip the top 0.5 %)')
    .choices(['auto', 'ct', 'mr'])
    .default('auto');

export const noAtlasOption = () =>
  new Option(
    '--no-atlas',
    "skip the atlas prior (the support's organ carried onto each query slice: the same place in the organ's slice range, in-plane by the spine on CT or the body on MR, then shifted to where the images around it agree; the fused confidence is lowered away from it): the paper's protocol has none",
  );

/** `--atlas-options <json>`: overrides of the atlas prior's weight, sigma, plateau, growth and position (tuning). */
export const atlasOptionsOption = () =>
  new Option(
    '--atlas-options <json>',
    "the atlas prior's weight, sigma, plateau, growth and position as JSON, e.g. '{\"weight\": 0.2}' (tuning; see scripts/tune)",
  ).argParser(jsonOverrides('--atlas-options', DEFAULT_OPTIONS.atlas));

export const seedOption = (fallback = 0, what = 'seed of the random choices') =>
  new Option('--seed <n>', what).argParser(integer('--seed', SEED)).default(fallback);

export const propagateOption = (
  what = `skip the propagation pass (each organ's slices segmented outward from an anchor, the largest mask of its own among every ${DEFAULT_OPTIONS.propagation.anchorStride}th slice, each guided by its neighbour's): each slice judged alone, the paper's protocol`,
) => new Option('--no-propagate', what);

export const agreementOption = () =>
  new Option(
    '--propagation-agreement <dice>',
    "with propagation, a slice whose own mask already agrees with its neighbour's final mask (their Dice above this) keeps it instead of being segmented again: faster (0.9: about a third less time propagating a CHAOS volume), the masks change a little; 1 segments every slice again",
  )
    .argParser(decimal('--propagation-agreement', { min: 0, max: 1 }))
    .default(DEFAULT_OPTIONS.propagation.agreement);

export const anchorStrideOption = () =>
  new Option(
    '--propagation-anchor-stride <n>',
    "with propagation, the anchor (the slice the pass starts from: the largest mask of its own) is looked for among every n-th slice of an organ's range, and only those are segmented on their own first; 1 segments every slice on its own first (slower: propagation then costs nearly twice the per-slice pass), the anchor may change",
  )
    .argParser(integer('--propagation-anchor-stride', { min: 1, max: 1000 }))
    .default(DEFAULT_OPTIONS.propagation.anchorStride);

/** `--threads <n>`: the CPU path's threads for a case's organs (segmentOrgansOnThreads); the output does not change. */
export const threadsOption = () =>
  new Option(
    '--threads <n>',
    "CPU path with the weight-free backend: a case's organs spread over this many threads, this one and the rest workers, by default one a core up to 8; the threads encode the query slices between them, each slice once, then each segments its organs; the masks are those of one thread, byte for byte",
  )
    .argParser(integer('--threads', { min: 1, max: 256 }))
    .default(defaultThreads());

/** What a case is segmented with: label map, band, intensity, seed, the propagation and atlas switches. */
export function withCaseSettings(cmd: Command): Command {
  return cmd
    .addOption(labelsOption())
    .addOption(bandOption())
    .addOption(intensityOption())
    .addOption(seedOption())
    .addOption(propagateOption())
    .addOption(agreementOption())
    .addOption(anchorStrideOption())
    .addOption(noAtlasOption());
}

/** How a run of cases opens its kernels and models (shared by `synpo batch` and `synpo queue worker`), with the case settings but the propagation switch. */
export function withCaseRunner(cmd: Command): Command {
  withBackend(cmd.addOption(deviceOption()).option('--adapter <name>', 'open the GPU adapter of this name (as `synpo info` prints it): one process per GPU'));
  return cmd.addOption(labelsOption()).addOption(bandOption()).addOption(intensityOption()).addOption(seedOption()).addOption(threadsOption());
}
