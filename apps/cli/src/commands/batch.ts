/**
 * `synpo batch`: the cases of a manifest with an embedded pool of N jobs in this process (the
 * models loaded once, the GPU shared), resumable (a case whose output and record match is
 * skipped), a JSON Lines log line per case, a progress line over cases, a summary table, and exit
 * 1 if any case failed (the others still run).
 */
import type { Command } from 'commander';
import { appendFile, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LAYOUTS } from '@synpo/core';
import { parseManifest } from '../batch/manifest.ts';
import { caseContext, runPool, type RunOpts } from '../batch/pool.ts';
import type { CaseResult } from '../batch/run-case.ts';
import { CliError, EXIT } from '../errors.ts';
import { checkCreatable, guardOutputs } from '../files.ts';
import { integer } from '../numbers.ts';
import { agreementOption, anchorStrideOption, noAtlasOption, propagateOption, withCaseRunner, type Runner } from '../options.ts';
import { progressLine } from '../progress.ts';

export function formatSummary(results: CaseResult[], seconds: number): string {
  const count = (s: CaseResult['status']) => results.filter((r) => r.status === s).length;
  const lines = [
    `${results.length} cases in ${seconds.toFixed(0)} s: ${count('done')} done, ${count('skipped')} skipped (up to date), ${count('failed')} failed`,
  ];
  const organs = [...new Set(results.flatMap((r) => r.organs?.map((o) => o.name) ?? []))];
  const scored = results.filter((r) => r.organs?.some((o) => o.dice !== undefined));
  if (scored.length) {
    lines.push('', `| | ${organs.join(' | ')} |`, `|---|${organs.map(() => '---:').join('|')}|`);
    const mean = (o: string) => {
      const d = scored.flatMap((r) => r.organs!.filter((x) => x.name === o && x.dice !== undefined).map((x) => x.dice!));
      return d.length ? `${((100 * d.reduce((a, v) => a + v, 0)) / d.length).toFixed(2)} (${d.length})` : '—';
    };
    lines.push(`| mean 3-D Dice % (cases) | ${organs.map(mean).join(' | ')} |`);
  }
  for (const r of results.filter((x) => x.status === 'failed')) lines.push(`failed: row ${r.row} ${r.query}: ${r.error}`);
  return lines.join('\n');
}

interface BatchOpts extends RunOpts {
  jobs: number;
  log?: string;
  json?: boolean;
  progress: boolean;
}

export function batchCommand(program: Command, run: Runner): void {
  const cmd = program
    .command('batch <manifest>')
    .description('segment the cases of a manifest (CSV or JSON Lines: support_image, support_label, query, out[, organs][, query_label]); resumable')
    .option('--jobs <n>', 'cases at a time in this process (they share the models and the GPU)', integer('--jobs', { min: 1, max: 64 }), 1)
    .option('--force', 'redo cases whose output is up to date')
    .addOption(propagateOption())
    .addOption(agreementOption())
    .addOption(anchorStrideOption())
    .addOption(noAtlasOption());
  withCaseRunner(cmd)
    .option('--log <file>', 'JSON Lines log, one line per case (default: <manifest>.log.jsonl)')
    .option('--json', 'print the results as JSON instead of the summary table')
    .option('--no-progress', 'no progress line on stderr')
    .action(
      run(async (manifest: string, opts: BatchOpts) => {
        let text: string;
        try {
          text = await readFile(manifest, 'utf8');
        } catch (error) {
          throw new CliError(`cannot read the manifest ${manifest}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
        const cases = parseManifest(text, manifest);
        const log = opts.log ?? `${manifest.replace(/\.(csv|jsonl?)$/i, '')}.log.jsonl`;
        await mkdir(dirname(log), { recursive: true }).catch(() => {});
        const named = (flag: string, paths: (string | undefined)[]) => paths.filter((p): p is string => Boolean(p)).map((path) => ({ flag, path }));
        await guardOutputs(
          [
            { flag: 'manifest', path: manifest },
            ...cases.flatMap((c) => named(`row ${c.row}`, [c.supportImage, c.supportLabel, c.query, c.queryLabel, c.out])),
          ],
          [{ flag: '--log', path: log, kind: 'file' }],
        );
        await checkCreatable(cases.map((c) => ({ flag: `row ${c.row}`, path: c.out })));
        await rm(log, { force: true });
        const t0 = performance.now();
        const { ctx, release } = await caseContext(opts);
        try {
          const progress = progressLine(opts.progress && !opts.json);
          let finished = 0;
          progress(0, cases.length, `${cases.length} cases, ${opts.jobs} at a time (${LAYOUTS[opts.band].name} band)`);
          const results = await runPool(cases, opts.jobs, ctx, async (r) => {
            await appendFile(log, `${JSON.stringify(r)}\n`);
            finished++;
            progress(finished, cases.length, `row ${r.row} ${r.status}${r.error ? `: ${r.error.split('\n')[0]}` : ''}`);
          });
          const seconds = (performance.now() - t0) / 1000;
          process.stdout.write(opts.json ? `${JSON.stringify({ results, seconds, log }, null, 2)}\n` : `${formatSummary(results, seconds)}\nlog: ${log}\n`);
          return results.some((r) => r.status === 'failed') ? EXIT.failure : EXIT.ok;
        } finally {
          release();
        }
      }),
    );
}
