#!/usr/bin/env node
/**
 * One row of the README's ablation table for the weight-free backend: `synpo eval` on all five
 * CHAOS-T2 folds and on SABS-CT fold 0 (the only Synapse fold here) with the given eval switches,
 * printing the held-out CHAOS folds (1–4) apart from the tuning fold (0), the 5-fold mean, SABS
 * fold 0 (a tuning fold), per-organ figures and the time per organ-slice.
 *
 *   node scripts/tune/ablation.mjs [--device cpu|gpu] [--no-propagate] [--weight-free JSON] …
 *
 * Means follow `synpo eval`: per organ the mean 3-D Dice over its scans, then the mean over
 * organs. Run it only to report; defaults are chosen with tune.mjs on the tuning folds.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));
const args = process.argv.slice(2);
const device = args.includes('--device') ? [] : ['--device', 'cpu'];
const only = process.env.ABLATION_DATASETS?.split(',') ?? ['chaos-t2', 'sabs-ct'];

function run(layout, folds) {
  const out = execFileSync(process.execPath, [bin, 'eval', '--layout', layout, '--folds', folds, ...device, '--json', '--no-progress', ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out);
}

/** The eval report's mean (organ means over scans, then over organs) restricted to some folds. */
function mean(report, folds) {
  const organs = [...new Set(report.scans.map((s) => s.organ))];
  const perOrgan = organs.map((organ) => {
    const d = report.scans.filter((s) => s.organ === organ && folds.includes(s.fold)).map((s) => s.dice);
    return [organ, d.reduce((a, v) => a + v, 0) / d.length];
  });
  return { mean: perOrgan.reduce((a, [, v]) => a + v, 0) / perOrgan.length, perOrgan };
}

const pct = (v) => (100 * v).toFixed(2);
const lines = [`eval ${args.join(' ') || '(defaults)'}`];
if (only.includes('chaos-t2')) {
  const r = run('chaos-t2', '0,1,2,3,4');
  const held = mean(r, [1, 2, 3, 4]);
  lines.push(
    `chaos-t2 held-out folds 1-4: mean ${pct(held.mean)} (${held.perOrgan.map(([o, v]) => `${o} ${pct(v)}`).join(', ')})`,
    // Fold 3 was looked at for defaults older than the tuning discipline: folds 1, 2, 4 are held out from everything.
    `chaos-t2 folds 1, 2, 4: mean ${pct(mean(r, [1, 2, 4]).mean)}`,
    `chaos-t2 tuning fold 0: mean ${pct(mean(r, [0]).mean)}; all 5 folds: mean ${pct(r.mean)}; ${r.seconds.toFixed(1)} s for 5 folds, ${((1000 * r.seconds) / r.encoding.organSlices).toFixed(1)} ms per organ-slice (${r.encoding.organSlices} organ-slices)`,
  );
}
if (only.includes('sabs-ct')) {
  const r = run('sabs-ct', '0');
  lines.push(
    `sabs-ct tuning fold 0: mean ${pct(r.mean)} (${r.organs.map((o) => `${o.organ} ${pct(o.mean)}`).join(', ')}); ${((1000 * r.seconds) / r.encoding.organSlices).toFixed(1)} ms per organ-slice`,
  );
}
process.stdout.write(`${lines.join('\n  ')}\n`);
