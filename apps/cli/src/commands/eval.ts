/** `synpo eval`: the paper's Table 1 protocol on a chaos-t2 or sabs-ct folder. */
import { Option, type Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_OPTIONS, evaluate, LAYOUTS, ORGANS, withSupport, type DatasetLayout, type EvalReport, type Organ, type SynpoOptionsInput } from '@synpo/core';
import { backendFor, cacheBytes, type BackendOpts } from '../backend.ts';
import { readNifti } from '@synpo/io/node';
import { computeFor } from '../compute.ts';
import { defaultDataDir } from '../data.ts';
import { CliError, EXIT } from '../errors.ts';
import { decimal, jsonOverrides, parseInteger } from '../numbers.ts';
import { guardOutputs, writeFileAtomic, type NamedPath } from '../files.ts';
import { atlasOptionsOption, deviceOption, noAtlasOption, seedOption, withBackend, type Runner } from '../options.ts';
import { progressLine } from '../progress.ts';

/** The paper's column order: upper abdomen (spleen, liver), lower (left, right kidney). */
const COLUMNS: Organ[] = ['spleen', 'liver', 'left-kidney', 'right-kidney'];
const HEADINGS: Record<Organ, string> = { spleen: 'Spleen', liver: 'Liver', 'left-kidney': 'LK', 'right-kidney': 'RK' };

interface EvalOpts extends BackendOpts {
  layout: 'chaos-t2' | 'sabs-ct';
  data?: string;
  folds?: string;
  support?: number;
  organs?: string;
  device: 'auto' | 'gpu' | 'cpu';
  seed: number;
  json?: boolean;
  out?: string;
  progress: boolean;
  encoders: 'both' | 'sam' | 'dino';
  fusion: 'synergy' | 'sum';
  negatives: 'band' | 'lowest' | 'none';
  refine: boolean;
  propagate: boolean;
  propagation?: { weight?: number; sigma?: number; agreement?: number };
  /** Commander's --no-atlas sets false. */
  atlas: boolean;
  atlasOptions?: { weight?: number; sigma?: number; plateau?: number; growth?: number; position?: boolean };
  alpha?: number;
  beta?: number;
}

export function formatEvalTable(r: EvalReport, support?: number): string {
  const organs = COLUMNS.filter((c) => r.organs.some((o) => o.organ === c));
  const pct = (v: number) => (Number.isFinite(v) ? (100 * v).toFixed(2) : '—');
  const cell = (organ: Organ, f: (o: EvalReport['organs'][number]) => number) => pct(f(r.organs.find((o) => o.organ === organ)!));
  const lines = [
    `${r.dataset}, ${r.backend} backend, folds ${r.folds.join(',')}${support !== undefined ? `, case ${support} the support of every fold` : ''}: 3-D Dice (%) per organ, mean ± std over folds`,
    '',
    `| | ${organs.map((o) => HEADINGS[o]).join(' | ')} | Mean |`,
    `|---|${organs.map(() => '---:').join('|')}|---:|`,
    `| μ | ${organs.map((o) => cell(o, (x) => x.mean)).join(' | ')} | ${pct(r.mean)} |`,
    `| ±σ | ${organs.map((o) => (r.folds.length > 1 ? cell(o, (x) => x.std) : '—')).join(' | ')} | |`,
    `| 2-D Dice | ${organs.map((o) => cell(o, (x) => x.mean2d)).join(' | ')} | ${pct(r.mean2d)} |`,
    '',
    `per fold: ${r.folds.map((k) => `fold ${k}: ${organs.map((o) => `${HEADINGS[o]} ${pct(r.organs.find((x) => x.organ === o)!.perFold.find((f) => f.fold === k)?.dice ?? NaN)}`).join(', ')}`).join('; ')}`,
    `${r.scans.length} query scans in ${r.seconds.toFixed(0)} s`,
    `one pass for all organs: ${r.encoding.encodedSlices} query slices encoded for ${r.encoding.organSlices} organ-slices (${r.encoding.organSlices - r.encoding.encodedSlices} encodings saved${r.encoding.encoderSecondsSaved !== null ? `, about ${r.encoding.encoderSecondsSaved.toFixed(1)} s of encoder time` : ''})`,
  ];
  return lines.join('\n');
}

export function evalCommand(program: Command, run: Runner): void {
  const cmd = program
    .command('eval')
    .description("the paper's Table 1 protocol (folds, EP1 3-part matching, 3-D Dice) on a dataset folder")
    .addOption(new Option('--layout <name>', 'dataset layout').choices(['chaos-t2', 'sabs-ct']).default('chaos-t2'))
    .option('--data <dir>', 'folder with image_<id>.nii.gz / label_<id>.nii.gz (default: shared/data/<layout> beside the repository)')
    .option('--folds <list>', 'comma-separated folds (default: every fold whose queries the data folder holds)')
    .option(
      '--support <id>',
      "every fold's support is case <id> instead of the protocol's; a fold's queries are its queries and its own support, less <id> (how much a result owes to the support scan: rotate <id> over a fold's cases)",
      (v: string) => parseInteger('--support', v, { min: 0 }),
    )
    .option('--organs <list>', `comma-separated organs: ${ORGANS.join(', ')} (default: all)`)
    .addOption(deviceOption());
  withBackend(cmd)
    .addOption(seedOption())
    .addOption(new Option('--encoders <which>', 'ablation: which confidence maps are fused').choices(['both', 'sam', 'dino']).default('both'))
    .addOption(new Option('--fusion <how>', 'ablation: Hadamard synergy or a plain average of the two maps').choices(['synergy', 'sum']).default('synergy'))
    .addOption(
      new Option('--negatives <source>', 'ablation: band negatives (SynPo), the least similar cells (PerSAM), or none')
        .choices(['band', 'lowest', 'none'])
        .default('band'),
    )
    .option('--no-refine', 'ablation: skip NRM and keep the coarse mask')
    .option(
      '--propagation <json>',
      "the propagation pass's weight, sigma, agreement (a slice whose own mask agrees with its neighbour's above this Dice is not segmented again; 1: every slice is) and anchorStride (the anchor is the largest mask of every anchorStride-th slice; 1: of every slice) as JSON, e.g. '{\"anchorStride\": 1}' (tuning; see scripts/tune)",
      jsonOverrides('--propagation', {
        weight: DEFAULT_OPTIONS.propagation.weight,
        sigma: DEFAULT_OPTIONS.propagation.sigma,
        agreement: DEFAULT_OPTIONS.propagation.agreement,
        anchorStride: DEFAULT_OPTIONS.propagation.anchorStride,
      }),
    )
    .option(
      '--no-propagate',
      `ablation: skip the propagation pass (each organ's slices segmented outward from an anchor, the largest mask of its own among every ${DEFAULT_OPTIONS.propagation.anchorStride}th slice, each guided by its neighbour's) and judge each slice alone, as the paper's protocol does`,
    )
    .addOption(noAtlasOption())
    .addOption(atlasOptionsOption())
    .option('--alpha <a>', "band lower bound μ − α·σ (default: the paper's value for the layout)", decimal('--alpha', { min: -10, max: 10 }))
    .option('--beta <b>', "band upper bound μ − β·σ (default: the paper's value for the layout)", decimal('--beta', { min: -10, max: 10 }))
    .option('--json', 'print the report as JSON')
    .option('--out <file>', 'also write the JSON report to this file')
    .option('--no-progress', 'no progress line on stderr')
    .action(
      run(async (opts: EvalOpts) => {
        const protocol = LAYOUTS[opts.layout];
        if (opts.support !== undefined && !protocol.cases.includes(opts.support))
          throw new CliError(`--support ${opts.support}: ${protocol.name} has no such case (cases: ${protocol.cases.join(', ')})`, EXIT.usage);
        const layout = opts.support === undefined ? protocol : withSupport(protocol, opts.support);
        // What the command line asks for is checked first, then where the data is.
        const organs = (opts.organs?.split(',').map((s) => s.trim()) ?? [...ORGANS]) as Organ[];
        for (const o of organs) if (!ORGANS.includes(o)) throw new CliError(`unknown organ '${o}' (${ORGANS.join(', ')})`, EXIT.usage);
        const asked = opts.folds?.split(',').map((s) => parseInteger('--folds', s, { min: 0, max: layout.folds - 1 }));
        const dir = opts.data ?? defaultDataDir(opts.layout);
        if (!dir) throw new CliError(`no data folder for ${opts.layout}: pass --data DIR (or set SYNPO_DATA)`, EXIT.usage);
        const listed = await readdir(dir).catch(() => null);
        if (!listed) throw new CliError(`the data folder ${dir} does not exist or cannot be read: pass --data DIR (or set SYNPO_DATA)`, EXIT.usage);
        const folds = foldsToRun(dir, new Set(listed), layout, asked);
        // The report is checked before the evaluation: an unwritable --out fails now, not after it.
        if (opts.out) await guardOutputs(dataFiles(dir, listed), [{ flag: '--out', path: opts.out, kind: 'file' }]);
        const options: SynpoOptionsInput = {
          seed: opts.seed,
          encoders: opts.encoders,
          ...(opts.fusion === 'sum' && { synergy: { both: 0, sam: 0.5, dino: 0.5 } }),
          points: {
            ...layout.band,
            negativeSource: opts.negatives,
            ...(opts.alpha !== undefined && { alpha: opts.alpha }),
            ...(opts.beta !== undefined && { beta: opts.beta }),
          },
          refine: { enabled: opts.refine },
          propagation: { ...opts.propagation, enabled: opts.propagate },
          ...(opts.atlasOptions && { atlas: opts.atlasOptions }),
          cacheBytes: cacheBytes(opts),
        };
        const backend = await backendFor(opts);
        const compute = await computeFor(opts.device);
        try {
          const report = await evaluate({
            layout,
            folds,
            organs,
            backend,
            kernels: compute.kernels,
            options,
            atlas: opts.atlas,
            load: (file) => readNifti(`${dir}/${file}`),
            progress: progressLine(opts.progress && !opts.json),
          });
          const json = JSON.stringify(
            {
              ...report,
              ...(opts.support !== undefined && { support: opts.support }),
              options,
              device: compute.kernels.path,
              ...(backend.providers && { providers: backend.providers }),
            },
            null,
            2,
          );
          if (opts.out) await writeFileAtomic(opts.out, `${json}\n`);
          process.stdout.write(opts.json ? `${json}\n` : `${formatEvalTable(report, opts.support)}\n`);
          return EXIT.ok;
        } finally {
          compute.release();
        }
      }),
    );
}

/**
 * The folds to run: those asked for, or every fold whose queries the data folder (its file
 * `names`) holds (shared/data has SABS fold 0's alone); their cases are checked before the
 * evaluation starts (a missing support is named), so a missing case does not stop it after the
 * folds before it have run.
 */
function foldsToRun(dir: string, names: ReadonlySet<string>, layout: DatasetLayout, asked: number[] | undefined): number[] {
  const absentOf = (id: number) => [layout.image(id), layout.label(id)].filter((f) => !names.has(f));
  const idsOf = (k: number) => {
    const { queries, support } = layout.fold(k);
    return [...queries, support];
  };
  const present = layout.cases.filter((id) => absentOf(id).length === 0);
  const has = present.length ? `it has cases ${present.join(', ')}` : 'it has no case of that layout';
  const folds = asked ?? Array.from({ length: layout.folds }, (_, k) => k).filter((k) => layout.fold(k).queries.every((id) => absentOf(id).length === 0));
  if (folds.length === 0) throw new CliError(`${dir} holds no fold's queries of ${layout.name} (${has}): pass --data DIR`, EXIT.usage);
  const cases = [...new Set(folds.flatMap(idsOf))].filter((id) => absentOf(id).length > 0);
  if (cases.length === 0) return folds;
  const files = cases.flatMap(absentOf);
  const what = files.length <= 4 ? files.join(', ') : `the files of cases ${cases.join(', ')}`;
  const whose = `${folds.length > 1 ? 'folds' : 'fold'} ${folds.join(',')} of ${layout.name}`;
  throw new CliError(`${dir} lacks ${what}, which ${whose} read (${has}): pick other --folds or --support, or pass --data DIR`, EXIT.usage);
}

/** The data folder's files (`names`), as inputs an output must not replace. */
function dataFiles(dir: string, names: readonly string[]): NamedPath[] {
  return names.filter((n) => /\.nii(\.gz)?$/i.test(n)).map((n) => ({ flag: '--data', path: join(dir, n) }));
}
