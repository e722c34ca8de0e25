#!/usr/bin/env node
/**
 * How much the tuning folds' figures owe to the support scan the protocol picks: `synpo eval
 * --folds 0 --support S` for every case S of fold 0 (its queries and its support), each case the
 * support once and the rest its queries. Only the tuning folds' scans are read (CHAOS fold 0:
 * 1, 2, 3, 5, 8; SABS fold 0: 0–6), so this is a robustness check of the defaults, not a held-out
 * figure. Prints each rotation's per-organ mean 3-D Dice, then per organ the mean, the worst
 * rotation and the spread over rotations.
 *
 *   node scripts/tune/supports.mjs [--no-atlas …]
 *
 * SUPPORTS_DATASETS=sabs-ct limits it to one dataset. Build first (`pnpm build`).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));
const args = process.argv.slice(2);
const only = process.env.SUPPORTS_DATASETS?.split(',') ?? ['chaos-t2', 'sabs-ct'];
const { LAYOUTS } = await import(new URL('../../packages/core/dist/index.js', import.meta.url).href);
/** Fold 0's cases: its queries and its support. */
const fold0 = (layout) => [...LAYOUTS[layout].fold(0).queries, LAYOUTS[layout].fold(0).support].sort((a, b) => a - b);
const pct = (v) => (100 * v).toFixed(2);

const lines = [`eval --folds 0 --support S ${args.join(' ') || '(defaults)'}`];
for (const layout of only) {
  const rows = [];
  for (const support of fold0(layout)) {
    const out = execFileSync(
      process.execPath,
      [bin, 'eval', '--layout', layout, '--folds', '0', '--support', String(support), '--device', 'cpu', '--json', '--no-progress', ...args],
      { encoding: 'utf8', maxBuffer: 64 << 20 },
    );
    const r = JSON.parse(out);
    const organs = Object.fromEntries(r.organs.map((o) => [o.organ, o.mean]));
    rows.push({ support, mean: r.mean, organs });
    const list = Object.entries(organs)
      .map(([o, v]) => `${o} ${pct(v)}`)
      .join(', ');
    lines.push(`${layout} support ${support}: mean ${pct(r.mean)} (${list}); ${r.seconds.toFixed(0)} s`);
    process.stderr.write(`${lines.at(-1)}\n`);
  }
  for (const organ of [...Object.keys(rows[0].organs), 'mean']) {
    const v = rows.map((row) => (organ === 'mean' ? row.mean : row.organs[organ]));
    const mean = v.reduce((a, x) => a + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / v.length);
    const worst = rows[v.indexOf(Math.min(...v))].support;
    lines.push(`${layout} ${organ}: ${pct(mean)} ± ${pct(std)} over ${v.length} supports, worst ${pct(Math.min(...v))} (support ${worst})`);
  }
}
process.stdout.write(`${lines.join('\n  ')}\n`);
