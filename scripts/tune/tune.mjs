#!/usr/bin/env node
/**
 * One tuning run of the weight-free backend on the tuning folds only (CHAOS fold 0, SABS fold 0):
 * `synpo eval --folds 0` on each, with the given weight-free options (JSON) and any other eval
 * switches, printing each organ's 3-D Dice, the mean and the CPU time per organ-slice.
 * Held-out folds are never run by this script.
 *
 *   node scripts/tune/tune.mjs '{"gamma": 0.1}' [--no-refine …]
 *
 * scripts/tune/README.md lists the runs that chose the defaults.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));
const [options = '{}', ...rest] = process.argv.slice(2);
const only = process.env.TUNE_DATASETS?.split(',') ?? ['chaos-t2', 'sabs-ct'];
const lines = [`${options}${rest.length ? ` ${rest.join(' ')}` : ''}`];
for (const layout of only) {
  const out = execFileSync(
    process.execPath,
    [bin, 'eval', '--layout', layout, '--folds', '0', '--device', 'cpu', '--json', '--no-progress', '--weight-free', options, ...rest],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  const r = JSON.parse(out);
  const organs = r.organs.map((o) => `${o.organ} ${(100 * o.mean).toFixed(2)}`).join(', ');
  lines.push(`${layout} fold 0: mean ${(100 * r.mean).toFixed(2)} (${organs}); ${((1000 * r.seconds) / r.encoding.organSlices).toFixed(1)} ms per organ-slice`);
}
process.stdout.write(`${lines.join('\n  ')}\n`);
