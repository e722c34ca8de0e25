/**
 * `synpo demo`: the main job on the built-in default, with no files: a procedural abdominal
 * phantom (one support patient, several query patients), segmented organ by organ with the
 * weight-free backend under the paper's protocol, Dice printed per organ, and an overlay PNG.
 */
import type { Command } from 'commander';
import {
  evaluate,
  GRID,
  ORGANS,
  phantomPatient,
  PHANTOM_LABELS,
  PIXELS,
  ROI,
  weightFreeBackend,
  type DatasetLayout,
  type Organ,
  type SliceResult,
} from '@synpo/core';
import { encodePng, type Volume } from '@synpo/io';
import { computeFor } from '../compute.ts';
import { CliError, EXIT } from '../errors.ts';
import { integer, SEED } from '../numbers.ts';
import { guardOutputs, writeFileAtomic } from '../files.ts';
import { deviceOption, type Runner } from '../options.ts';
import { progressLine } from '../progress.ts';

const COLOURS: Record<Organ, [number, number, number]> = {
  liver: [230, 80, 60],
  spleen: [80, 200, 90],
  'right-kidney': [70, 120, 240],
  'left-kidney': [230, 200, 60],
};

interface DemoOpts {
  device: 'auto' | 'gpu' | 'cpu';
  patients: number;
  seed: number;
  out: string;
  json?: boolean;
  progress: boolean;
}

/** Rows of query patients; each shows its middle organ slice: truth outlines, predictions filled, points. */
function overlay(images: Volume[], truths: Volume[], picks: Map<string, { z: number; result: SliceResult }>, organs: Organ[]): Uint8Array {
  const rows = images.length;
  const out = new Uint8Array(rows * PIXELS * 3);
  images.forEach((image, r) => {
    const z = Math.floor(image.dims[2] / 2);
    for (let i = 0; i < PIXELS; i++) {
      const g = Math.round(255 * image.data[z * PIXELS + i]!);
      out.set([g, g, g], (r * PIXELS + i) * 3);
    }
    for (const organ of organs) {
      const hit = picks.get(`${r + 1}:${organ}`);
      const colour = COLOURS[organ];
      if (hit && hit.z === z) {
        hit.result.final.forEach((v, i) => {
          if (!v) return;
          const o = (r * PIXELS + i) * 3;
          for (let c = 0; c < 3; c++) out[o + c] = Math.round(0.45 * out[o + c]! + 0.55 * colour[c]!);
        });
        for (const p of [...hit.result.positives, ...hit.result.negatives]) {
          for (let d = -2; d <= 2; d++) {
            for (const [x, y] of [
              [p.x + d, p.y],
              [p.x, p.y + d],
            ] as const) {
              if (x < 0 || y < 0 || x >= ROI || y >= ROI) continue;
              out.set(p.label ? [255, 255, 255] : [0, 0, 0], (r * PIXELS + y * ROI + x) * 3);
            }
          }
        }
      }
      // Truth outline: organ pixels with a 4-neighbour outside the organ.
      const t = truths[r]!.data;
      const value = PHANTOM_LABELS[organ];
      for (let y = 1; y < ROI - 1; y++) {
        for (let x = 1; x < ROI - 1; x++) {
          const i = z * PIXELS + y * ROI + x;
          if (t[i] !== value) continue;
          if (t[i - 1] !== value || t[i + 1] !== value || t[i - ROI] !== value || t[i + ROI] !== value) out.set(colour, (r * PIXELS + y * ROI + x) * 3);
        }
      }
    }
  });
  return encodePng(out, ROI, rows * ROI, 3);
}

export function demoCommand(program: Command, run: Runner): void {
  program
    .command('demo')
    .description('segment liver, spleen and kidneys of a built-in phantom (no files needed): Dice per organ and an overlay PNG')
    .addOption(deviceOption())
    .option('--patients <n>', 'phantom patients: the first is the support, the rest are queries', integer('--patients', { min: 2, max: 12 }), 4)
    .option('--seed <n>', 'seed of the phantom and of the random choices', integer('--seed', SEED), 1)
    .option('--out <file>', "overlay PNG (query patients' middle slices: truth outlined, prediction filled, points marked)", 'synpo-demo.png')
    .option('--json', 'print a JSON summary')
    .option('--no-progress', 'no progress line on stderr')
    .action(
      run(async (opts: DemoOpts) => {
        if (!/\.png$/i.test(opts.out)) throw new CliError(`--out ${opts.out}: the overlay is a .png`, EXIT.usage);
        await guardOutputs([], [{ flag: '--out', path: opts.out, kind: 'file' }]);
        const patients = Array.from({ length: opts.patients }, (_, i) => phantomPatient(opts.seed * 1000 + i));
        const layout: DatasetLayout = {
          name: 'phantom' as DatasetLayout['name'],
          cases: patients.map((_, i) => i),
          labels: PHANTOM_LABELS,
          folds: 1,
          fold: () => ({ queries: patients.slice(1).map((_, i) => i + 1), support: 0 }),
          band: { alpha: 0, beta: -1.5 },
          image: (id) => `image_${id}`,
          label: (id) => `label_${id}`,
        };
        const byName = new Map<string, Volume>(
          patients.flatMap((p, i) => [
            [`image_${i}`, p.image],
            [`label_${i}`, p.labels],
          ]),
        );
        const compute = await computeFor(opts.device);
        try {
          const picks = new Map<string, { z: number; result: SliceResult }>();
          const report = await evaluate({
            layout,
            folds: [0],
            organs: [...ORGANS],
            backend: weightFreeBackend(),
            kernels: compute.kernels,
            options: { seed: opts.seed },
            load: async (file) => byName.get(file)!,
            progress: progressLine(opts.progress && !opts.json),
            onSlices: ({ organ, scan }, zs, results) => {
              const mid = Math.floor(patients[scan]!.image.dims[2] / 2);
              const k = zs.indexOf(mid);
              if (k >= 0) picks.set(`${scan}:${organ}`, { z: mid, result: results[k]! });
            },
          });
          const png = overlay(
            patients.slice(1).map((p) => p.image),
            patients.slice(1).map((p) => p.labels),
            picks,
            [...ORGANS],
          );
          await writeFileAtomic(opts.out, png);
          const summary = {
            device: compute.kernels.path,
            patients: opts.patients,
            dice: Object.fromEntries(report.organs.map((o) => [o.organ, o.mean])),
            mean: report.mean,
            overlay: opts.out,
            seconds: report.seconds,
            grid: `${GRID}×${GRID}`,
          };
          if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
          else {
            process.stdout.write(
              [
                `synpo demo: phantom, 1 support + ${opts.patients - 1} query patients, weight-free backend, ${compute.kernels.path === 'gpu' ? `WebGPU (${compute.adapter?.description})` : 'CPU reference kernels'}`,
                ...report.organs.map((o) => `  ${o.organ.padEnd(13)} Dice ${(100 * o.mean).toFixed(1)}`),
                `  mean          Dice ${(100 * report.mean).toFixed(1)}`,
                `overlay: ${opts.out} (${report.seconds.toFixed(1)} s)`,
              ].join('\n') + '\n',
            );
          }
          return EXIT.ok;
        } finally {
          compute.release();
        }
      }),
    );
}
