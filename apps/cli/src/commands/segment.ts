/** `synpo segment`: one annotated support → the organ's mask on a query volume, slice or folder. */
import { Option, type Command } from 'commander';
import { access, constants } from 'node:fs/promises';
import { dirname } from 'node:path';
import { labelsToRoi, prepareVolume, PIXELS, roiToVolume, segmentOrgans, Synpo, LAYOUTS, type PreparedVolume } from '@synpo/core';
import { backendFor, backendOptions, cacheBytes, type BackendOpts } from '../backend.ts';
import { encodeMaskPng, encodeNiftiMask, type Volume } from '@synpo/io';
import { ShapeError } from '@synpo/gpu';
import { computeFor } from '../compute.ts';
import { Dumper } from '../dump.ts';
import { CliError, EXIT } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { loadVolume } from '../inputs.ts';
import { chooseOrgans } from '../organs.ts';
import { deviceOption, type Runner } from '../main.ts';
import { progressLine } from '../progress.ts';

interface SegmentOpts extends BackendOpts {
  supportImage: string;
  supportLabel: string;
  organ?: string;
  organs?: string;
  labels: string;
  query: string;
  out: string;
  slice?: number;
  supportSlice?: number;
  slices?: string;
  value?: string;
  intensity: 'auto' | 'ct' | 'mr';
  band: 'chaos-t2' | 'sabs-ct';
  device: 'auto' | 'gpu' | 'cpu';
  seed: number;
  dump?: string;
  json?: boolean;
  progress: boolean;
}

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`${name} must be a non-negative integer, got '${v}'`, EXIT.usage);
  return Number.parseInt(v, 10);
};

async function checkWritable(path: string): Promise<void> {
  try {
    await access(dirname(path), constants.W_OK);
  } catch {
    throw new CliError(`cannot write ${path}: its folder ${dirname(path)} does not exist or is not writable`);
  }
}

/** One slice of a volume as a one-slice volume (for `--slice`). */
function oneSlice(v: Volume, z: number, what: string): Volume {
  const [nx, ny, nz] = v.dims;
  if (z >= nz) throw new CliError(`${what}: --slice ${z} is outside 0..${nz - 1} of ${v.source}`, EXIT.usage);
  return { ...v, data: v.data.slice(z * nx * ny, (z + 1) * nx * ny), dims: [nx, ny, 1], header: undefined };
}

export function segmentCommand(program: Command, run: Runner): void {
  program
    .command('segment')
    .description('segment an organ in a query (volume, slice or DICOM folder) from one annotated support')
    .requiredOption('--support-image <path>', 'support image: .nii/.nii.gz volume, .png/.jpg slice, or DICOM folder')
    .requiredOption('--support-label <path>', 'support labels (same grid as the support image); for a PNG, any non-zero pixel is the organ')
    .option('--organ <name|value>', 'organ name (see --labels) or label value; not needed for a binary mask')
    .option('--organs <list>', 'several organs in one pass (each query slice encoded once), into one label volume: names or values, comma-separated, or "all" (every label of the support)')
    .addOption(new Option('--labels <map>', 'label map for organ names').choices(['chaos-t2', 'sabs-ct', 'totalseg']).default('chaos-t2'))
    .requiredOption('--query <path>', 'query: .nii/.nii.gz volume, .png/.jpg slice, or DICOM folder')
    .requiredOption('--out <file>', 'output mask: .nii.gz / .nii (with the query\'s header) or .png (2-D queries)')
    .option('--slice <z>', 'segment only this slice of a query volume', int('--slice'))
    .option('--support-slice <z>', 'use this one support slice (default: the protocol\'s three, at 1/6, 1/2, 5/6 of the organ)', int('--support-slice'))
    .option('--slices <a:b>', 'query slices to segment (default: the support\'s organ range carried over by relative position)')
    .option('--value <n|map>', 'label value written: a number for one organ (default 1), or name=value pairs with --organs (default: the support\'s own values)')
    .addOption(new Option('--intensity <mode>', 'intensity preprocessing: auto (HU → ct, else mr), ct (window [-125, 275]), mr (clip the top 0.5 %)').choices(['auto', 'ct', 'mr']).default('auto'))
    .addOption(new Option('--band <set>', 'negative band: the paper\'s best for CHAOS-MRI ([μ, μ+1.5σ]) or Synapse-CT ([μ−σ, μ+0.5σ])').choices(['chaos-t2', 'sabs-ct']).default('chaos-t2'))
    .addOption(deviceOption())
    .addOption(backendOptions()[0]!)
    .addOption(backendOptions()[1]!)
    .addOption(backendOptions()[2]!)
    .addOption(backendOptions()[3]!)
    .option('--seed <n>', 'seed of the random choices', int('--seed'), 0)
    .option('--dump <dir>', 'write every intermediate per query slice as .npy files into DIR/slice-<z>/')
    .option('--json', 'print a JSON summary')
    .option('--no-progress', 'no progress line on stderr')
    .action(run(async (opts: SegmentOpts) => {
      const format = /\.nii\.gz$/i.test(opts.out) ? 'nii.gz' : /\.nii$/i.test(opts.out) ? 'nii' : /\.png$/i.test(opts.out) ? 'png' : null;
      if (!format) throw new CliError(`--out ${opts.out}: use a .nii.gz, .nii or .png file name`, EXIT.usage);
      await checkWritable(opts.out);
      if (opts.dump) await checkWritable(opts.dump);
      let range: [number, number] | undefined;
      if (opts.slices) {
        const m = /^(\d+):(\d+)$/.exec(opts.slices);
        if (!m) throw new CliError(`--slices must look like a:b, got '${opts.slices}'`, EXIT.usage);
        range = [Number(m[1]), Number(m[2])];
      }

      // Models first: a broken model directory fails before any volume is read.
      const backend = await backendFor(opts);
      const supportImage = await loadVolume(opts.supportImage, 'support image');
      const supportLabel = await loadVolume(opts.supportLabel, 'support label');
      if (supportImage.dims.join() !== supportLabel.dims.join()) {
        throw new CliError(`support label ${opts.supportLabel} is ${supportLabel.dims.join('×')}, the support image ${opts.supportImage} is ${supportImage.dims.join('×')}; they must share one grid`);
      }
      let query = await loadVolume(opts.query, 'query');
      if (opts.slice !== undefined) query = oneSlice(query, opts.slice, 'query');
      const supportIs2D = supportImage.dims[2] === 1;
      const queryIs2D = query.dims[2] === 1;
      if (supportIs2D !== queryIs2D && opts.slice === undefined) {
        throw new CliError(`the support is ${supportIs2D ? '2-D' : '3-D'} (${supportImage.dims.join('×')}) but the query is ${queryIs2D ? '2-D' : '3-D'} (${query.dims.join('×')}); give both as slices or both as volumes (or pick a query slice with --slice)`);
      }
      if (format === 'png' && !queryIs2D) throw new CliError('--out .png needs a 2-D query (a slice, or --slice z); write volumes as .nii.gz', EXIT.usage);

      const organs = chooseOrgans(opts, opts.supportLabel, supportLabel);
      if (format === 'png' && organs.length > 1) throw new CliError('--out .png holds one organ; write several organs as .nii.gz', EXIT.usage);

      const compute = await computeFor(opts.device);
      let dump: Dumper | null = null;
      try {
        const kernels = compute.kernels;
        const support = await prepareVolume(supportImage, kernels, opts.intensity);
        const prepared: PreparedVolume = await prepareVolume(query, kernels, opts.intensity);
        const [sx, sy] = supportImage.dims;
        const [qx, qy] = query.dims;
        if (sx !== qx || sy !== qy) process.stderr.write(`synpo: support is ${sx}×${sy} in-plane, query ${qx}×${qy}: both are resampled to 256×256\n`);
        const synpo = new Synpo(backend, kernels, { seed: opts.seed, points: { ...LAYOUTS[opts.band].band }, cacheBytes: cacheBytes(opts) });
        if (opts.dump) {
          dump = new Dumper(opts.dump, prepared, LAYOUTS[opts.band].band);
          await dump.start();
        }
        const progress = progressLine(opts.progress && !opts.json && !queryIs2D);
        const t0 = performance.now();
        const several = organs.length > 1;
        const result = await segmentOrgans({
          synpo, support, query: prepared,
          organs: organs.map((o) => ({ name: o.name, value: o.written, masks: labelsToRoi(supportLabel, support.region, o.value), ...(range && { range }) })),
          ...(opts.supportSlice !== undefined && { supportSlice: opts.supportSlice }),
          ...(dump && { detail: true, onSlice: (z, organ, r, s, supportZ) => dump!.slice(z, r, s, supportZ, several ? organ : undefined) }),
          progress,
        });
        const seconds = (performance.now() - t0) / 1000;
        const labels = roiToVolume(result.labels, prepared, 'as-is');
        const bytes = format === 'png' ? encodeMaskPng(labels.map((v) => (v ? 1 : 0)), query.dims[0], query.dims[1]) : encodeNiftiMask(labels, query, format === 'nii.gz');
        await writeFileAtomic(opts.out, bytes);
        await dump?.finish();
        const voxels = labels.reduce((a, v) => a + (v ? 1 : 0), 0);
        const perOrgan = result.organs.map((o) => {
          const written = labels.reduce((a, v) => a + (v === o.value ? 1 : 0), 0);
          const empty = Array.from({ length: o.range[1] - o.range[0] + 1 }, (_, i) => o.range[0] + i).filter((z) => !o.masks.subarray(z * PIXELS, (z + 1) * PIXELS).some((v) => v));
          return { name: o.name, value: o.value, supportValue: organs.find((x) => x.name === o.name)!.value, voxels: written, range: o.range, supportSlices: o.supportSlices, emptySlices: empty };
        });
        const summary = {
          out: opts.out, voxels, range: result.range,
          // One organ: its support slices, value and empty slices, as before --organs existed.
          ...(!several && { supportSlices: perOrgan[0]!.supportSlices, organValue: perOrgan[0]!.supportValue, emptySlices: perOrgan[0]!.emptySlices }),
          organs: perOrgan,
          encodedSlices: result.encodedSlices, organSlices: result.organSlices, overlapPixels: result.overlapPixels, seconds,
          // Host time in the encoders (on the GPU their work runs asynchronously, so only the CPU path's is the encoders' whole time).
          encoderSeconds: synpo.encoded.ms / 1000,
          device: kernels.path, resampled: prepared.resampled, dump: opts.dump ?? null,
          ...(backend.providers && { providers: backend.providers }),
        };
        const text = several
          ? [`wrote ${opts.out}: ${perOrgan.map((o) => `${o.name} (${o.value}) ${o.voxels} voxels in slices ${o.range[0]}..${o.range[1]}`).join('; ')}`,
            `one pass: ${result.encodedSlices} query slices encoded for ${result.organSlices} organ-slices; ${result.overlapPixels} ROI pixels claimed by two organs went to the higher fused confidence`].join('\n')
          : `wrote ${opts.out}: ${voxels} voxels in slices ${result.range[0]}..${result.range[1]} (support slices ${perOrgan[0]!.supportSlices.join(', ')})`;
        process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${text}\n`);
        return EXIT.ok;
      } catch (error) {
        await dump?.abandon();
        if (error instanceof ShapeError) throw new CliError(error.message);
        throw error;
      } finally {
        compute.release();
      }
    }));
}
