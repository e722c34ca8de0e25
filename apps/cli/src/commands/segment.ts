/** `synpo segment`: one annotated support → the organ's mask on a query volume, slice or folder. */
import type { Command } from 'commander';
import { warmThreads } from '@synpo/core/node';
import { anySet, checkCase, PIXELS, segmentCase, LAYOUTS } from '@synpo/core';
import { backendFor, cacheBytes, organThreads, type BackendOpts } from '../backend.ts';
import { reorientation, sliceVolume, type Reorientation, type Volume } from '@synpo/io';
import { ShapeError } from '@synpo/gpu';
import { computeFor } from '../compute.ts';
import { Dumper } from '../dump.ts';
import { CliError, EXIT } from '../errors.ts';
import { guardOutputs, writeFileAtomic, type OutputPath } from '../files.ts';
import { checkFormat, encodeMask, FORMAT_HELP, maskFormat } from '../outputs.ts';
import { loadVolume } from '../inputs.ts';
import { chooseOrgans } from '../organs.ts';
import {
  agreementOption,
  anchorStrideOption,
  bandOption,
  deviceOption,
  intensityOption,
  labelsOption,
  noAtlasOption,
  propagateOption,
  seedOption,
  threadsOption,
  withBackend,
  type Runner,
} from '../options.ts';
import { progressLine } from '../progress.ts';
import { integer } from '../numbers.ts';

interface SegmentOpts extends BackendOpts {
  supportImage: string;
  supportLabel: string;
  organ?: string;
  /** Commander's --no-atlas sets false. */
  atlas: boolean;
  organs?: string;
  series?: string;
  supportSeries?: string;
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
  force?: boolean;
  propagate: boolean;
  propagationAgreement: number;
  propagationAnchorStride: number;
  threads: number;
  json?: boolean;
  progress: boolean;
}

/**
 * Slice indices on the command line and in reports are the file's own (what a viewer shows);
 * SynPo works on canonical slices. They differ when the file stores slices head to feet; a
 * volume stored as sagittal or coronal slices has no axial file index, so canonical ones are
 * reported for it.
 */
function fileSliceOf(r: Reorientation): (zc: number) => number {
  return r.axes[2] === 2 && r.flip[2] ? (zc) => r.dims[2] - 1 - zc : (zc) => zc;
}
const fileRange = (f: (z: number) => number, [a, b]: [number, number]): [number, number] => [Math.min(f(a), f(b)), Math.max(f(a), f(b))];

/** Slice z of a query volume (`--slice`), kept where it sits in the world; only axial slices. */
function oneSlice(v: Volume, z: number, what: string): { slice: Volume; canonicalZ: number } {
  const [, , nz] = v.dims;
  if (z >= nz) throw new CliError(`${what}: --slice ${z} is outside 0..${nz - 1} of ${v.source}`, EXIT.usage);
  const r = reorientation(v.affine, v.dims);
  if (r.axes[2] !== 2) {
    throw new CliError(
      `${what}: ${v.source} is stored as ${r.fileCode} slices (its third axis is not the body axis), so --slice would cut a ${r.axes[0] === 2 ? 'sagittal' : 'coronal'} slice; segment the whole volume instead (it is reoriented to axial)`,
      EXIT.usage,
    );
  }
  return { slice: sliceVolume(v, z), canonicalZ: r.flip[2] ? nz - 1 - z : z };
}

export function segmentCommand(program: Command, run: Runner): void {
  const cmd = program
    .command('segment')
    .description('segment an organ in a query (volume, slice or DICOM folder) from one annotated support')
    .requiredOption('--support-image <path>', 'support image: .nii/.nii.gz volume, .png/.jpg slice, or DICOM folder')
    .requiredOption('--support-label <path>', 'support labels (same grid as the support image); for a PNG, any non-zero pixel is the organ')
    .option('--organ <name|value>', 'organ name (see --labels) or label value; not needed for a binary mask')
    .option(
      '--organs <list>',
      'several organs in one pass (each query slice encoded once), into one label volume: names or values, comma-separated, or "all" (every label of the support)',
    )
    .addOption(labelsOption())
    .requiredOption('--query <path>', 'query: .nii/.nii.gz volume, .png/.jpg slice, or DICOM folder')
    .option('--series <uid>', 'the query series (SeriesInstanceUID) when the query DICOM folder holds several; they are listed when it is missing')
    .option('--support-series <uid>', 'the same for a support DICOM folder (image and label) that holds several series')
    .requiredOption('--out <file>', `output mask: ${FORMAT_HELP}; never an input, written whole or not at all`)
    .option(
      '--slice <z>',
      "segment only slice z (the file's own index) of a query volume; the mask is that slice, kept where it sits in the volume, and it uses the support slice of the third of the organ z falls in (one slice has no neighbours to propagate from: it equals that slice of a --no-propagate run)",
      integer('--slice', { min: 0 }),
    )
    .option(
      '--support-slice <z>',
      "use this one support slice (default: the protocol's three, at 1/6, 1/2, 5/6 of the organ)",
      integer('--support-slice', { min: 0 }),
    )
    .option(
      '--slices <a:b>',
      "query slices to segment, the file's own indices (default: the support's organ range carried over by relative position along the body axis)",
    )
    .option(
      '--value <n|map>',
      "label value written, 1…65535 (uint8 output up to 255, uint16 above): a number for one organ (default 1), or name=value pairs with --organs (default: the support's own values)",
    )
    .addOption(intensityOption())
    .addOption(bandOption())
    .addOption(deviceOption());
  withBackend(cmd)
    .addOption(seedOption())
    .option(
      '--dump <dir>',
      "write every intermediate per canonical query slice as .npy files into DIR/slice-<z>/ (DIR must be new or empty, or a previous dump with --force); they are the per-slice pass's, before propagation",
    )
    .option('--force', 'let --dump replace a folder holding a previous synpo dump')
    .addOption(propagateOption())
    .addOption(agreementOption())
    .addOption(anchorStrideOption())
    .addOption(noAtlasOption())
    .addOption(threadsOption())
    .option('--json', 'print a JSON summary')
    .option('--no-progress', 'no progress line on stderr')
    .action(
      run(async (opts: SegmentOpts) => {
        const format = maskFormat('--out', opts.out);
        const outputs: OutputPath[] = [
          { flag: '--out', path: opts.out, kind: 'file' },
          ...(opts.dump ? [{ flag: '--dump', path: opts.dump, kind: 'folder' as const }] : []),
        ];
        await guardOutputs(
          [
            { flag: '--support-image', path: opts.supportImage },
            { flag: '--support-label', path: opts.supportLabel },
            { flag: '--query', path: opts.query },
          ],
          outputs,
          { force: Boolean(opts.force) },
        );
        let range: [number, number] | undefined;
        if (opts.slices) {
          const m = /^(\d+):(\d+)$/.exec(opts.slices);
          if (!m) throw new CliError(`--slices must look like a:b, got '${opts.slices}'`, EXIT.usage);
          range = [Number(m[1]), Number(m[2])];
          if (range[0] > range[1]) throw new CliError(`--slices ${opts.slices}: the first slice is after the last`, EXIT.usage);
        }
        if (range && opts.slice !== undefined) throw new CliError('give --slice or --slices, not both', EXIT.usage);

        // Threads for the organs start while the volumes are read (only what the CPU path can use).
        // This thread takes a part itself: one worker fewer than threads, and no more than organs listed.
        const listed = opts.organs === undefined ? 1 : opts.organs.trim() === 'all' ? Infinity : opts.organs.split(',').filter((x) => x.trim()).length;
        const threadsWanted = organThreads(opts.device, opts, opts.dump ? 1 : opts.threads, listed).threads;
        if (threadsWanted > 1) warmThreads(Math.min(threadsWanted - 1, 8));
        // Models first: a broken model directory fails before any volume is read.
        const backend = await backendFor(opts);
        const supportImage = await loadVolume(opts.supportImage, 'support image', { series: opts.supportSeries });
        const supportLabel = await loadVolume(opts.supportLabel, 'support label', { series: opts.supportSeries });
        const file = await loadVolume(opts.query, 'query', { series: opts.series });
        const cut = opts.slice !== undefined ? oneSlice(file, opts.slice, 'query') : null;
        const query = cut?.slice ?? file;
        checkCase(supportImage, supportLabel, query, { querySliceOfVolume: cut !== null });
        checkFormat(format, '--out', opts.out, query);

        const organs = chooseOrgans(opts, opts.supportLabel, supportLabel);
        if (format === 'png' && organs.length > 1) throw new CliError('--out .png holds one organ; write several organs as .nii.gz', EXIT.usage);
        // Slice indices: --slices, --support-slice and the reports use the files' own (see fileSliceOf).
        const qr = reorientation(query.affine, query.dims);
        const toFile = fileSliceOf(qr);
        const toFileSupport = fileSliceOf(reorientation(supportImage.affine, supportImage.dims));
        if (range && qr.axes[2] !== 2)
          throw new CliError(`--slices: the query is stored as ${qr.fileCode} slices, not axial ones; segment the whole volume`, EXIT.usage);
        const canonicalRange = range && fileRange(toFile, range);

        const compute = await computeFor(opts.device);
        let dump = null as Dumper | null; // set in prepared() below
        try {
          const kernels = compute.kernels;
          const several = organs.length > 1;
          // The CPU path spreads the organs over threads (the weight-free backend; dumps stay in one thread).
          const { threads, segment } = organThreads(kernels.path, opts, opts.dump ? 1 : opts.threads, organs.length);
          let t0 = performance.now();
          const result = await segmentCase({
            backend,
            kernels,
            supportImage,
            supportLabel,
            query,
            ...(cut && { sliceOf: { volume: file, canonicalZ: cut.canonicalZ } }),
            organs,
            band: opts.band,
            intensity: opts.intensity,
            options: {
              seed: opts.seed,
              cacheBytes: cacheBytes(opts),
              propagation: { enabled: opts.propagate, agreement: opts.propagationAgreement, anchorStride: opts.propagationAnchorStride },
            },
            atlas: opts.atlas,
            ...(canonicalRange && { range: canonicalRange }),
            ...(opts.supportSlice !== undefined && { supportSlice: toFileSupport(opts.supportSlice) }),
            progress: progressLine(opts.progress && !opts.json && query.dims[2] > 1),
            prepared: async (support, prepared) => {
              for (const [what, p] of [
                ['support', support],
                ['query', prepared],
              ] as const) {
                const r = p.reorientation;
                if (r.axes[2] !== 2)
                  process.stderr.write(
                    `synpo: the ${what} ${p.volume.source} is stored as ${r.axes[0] === 2 ? 'sagittal' : 'coronal'} slices (${r.fileCode}); it is processed as axial slices (${r.dims.join('×')}) and the mask written back on its own grid\n`,
                  );
              }
              const [sx, sy] = supportImage.dims;
              const [qx, qy] = query.dims;
              if (sx !== qx || sy !== qy) process.stderr.write(`synpo: support is ${sx}×${sy} in-plane, query ${qx}×${qy}: both are resampled to 256×256\n`);
              if (opts.dump) {
                dump = new Dumper(opts.dump, prepared, LAYOUTS[opts.band].band);
                await dump.start();
              }
              // The time reported is the segmentation's, not the reading and preparing.
              t0 = performance.now();
            },
            ...(segment && { segment }),
            ...(opts.dump && {
              detail: true,
              onSlice: (z, organ, r, s, supportZ) => dump!.slice(cut ? opts.slice! : toFile(z), r, s, toFileSupport(supportZ), several ? organ : undefined, z),
            }),
          });
          const seconds = (performance.now() - t0) / 1000;
          const blank = result.blankSlices.map(cut ? () => opts.slice! : toFile).sort((a, b) => a - b);
          if (blank.length) {
            const all = blank.length === result.range[1] - result.range[0] + 1;
            process.stderr.write(
              all
                ? `synpo: warning: the query ${query.source} is blank (one intensity throughout the slices to segment): the mask is empty\n`
                : `synpo: warning: ${blank.length} query slice${blank.length > 1 ? 's are' : ' is'} blank (one intensity) and left empty: ${blank.join(', ')}\n`,
            );
          }
          const labels = result.fileLabels;
          await writeFileAtomic(opts.out, encodeMask(format, labels, query, organs));
          await dump?.finish();
          // Voxels written per label value, in one pass over the labels.
          const written = new Map<number, number>();
          for (let i = 0; i < labels.length; i++) if (labels[i]) written.set(labels[i]!, (written.get(labels[i]!) ?? 0) + 1);
          const voxels = [...written.values()].reduce((a, n) => a + n, 0);
          const perOrgan = result.organs.map((o) => {
            const empty = Array.from({ length: o.range[1] - o.range[0] + 1 }, (_, i) => o.range[0] + i).filter(
              (z) => !anySet(o.masks, z * PIXELS, (z + 1) * PIXELS),
            );
            const slices = cut ? (): [number, number] => [opts.slice!, opts.slice!] : () => fileRange(toFile, o.range);
            return {
              name: o.name,
              value: o.value,
              supportValue: organs.find((x) => x.name === o.name)!.value,
              voxels: written.get(o.value) ?? 0,
              range: slices(),
              supportSlices: o.supportSlices.map(toFileSupport),
              emptySlices: (cut ? empty.map(() => opts.slice!) : empty.map(toFile)).sort((a, b) => a - b),
              // The atlas prior's in-plane map from query to support ROI pixels, the organ's enlargement, and its time in ms.
              ...(o.atlas && { atlas: o.atlas }),
            };
          });
          const summary = {
            out: opts.out,
            voxels,
            range: cut ? [opts.slice!, opts.slice!] : fileRange(toFile, result.range),
            // One organ: its support slices, value and empty slices, as before --organs existed.
            ...(!several && { supportSlices: perOrgan[0]!.supportSlices, organValue: perOrgan[0]!.supportValue, emptySlices: perOrgan[0]!.emptySlices }),
            organs: perOrgan,
            encodedSlices: result.encodedSlices,
            organSlices: result.organSlices,
            overlapPixels: result.overlapPixels,
            blankSlices: blank,
            perSliceSlices: result.perSliceSlices,
            propagatedSlices: result.propagatedSlices,
            propagationSteps: result.propagationSteps,
            seconds,
            // What crossed between host and device for this volume (null on the CPU path), and how many
            // speculatively recorded random-walker chains had to be re-run after their check.
            transfers: result.transfers,
            speculation: result.speculation,
            // Host time in the encoders (on the GPU their work runs asynchronously, so only the CPU path's is the encoders' whole time; null when threads ran them).
            encoderSeconds: threads > 1 ? null : result.synpo.encoded.ms / 1000,
            threads,
            device: kernels.path,
            resampled: result.query.resampled,
            dump: opts.dump ?? null,
            ...(backend.providers && { providers: backend.providers }),
          };
          const text = several
            ? [
                `wrote ${opts.out}: ${perOrgan.map((o) => `${o.name} (${o.value}) ${o.voxels} voxels in slices ${o.range[0]}..${o.range[1]}`).join('; ')}`,
                `one pass: ${result.encodedSlices} query slices encoded for ${result.organSlices} organ-slices; ${result.overlapPixels} ROI pixels claimed by two organs went to the higher fused confidence`,
              ].join('\n')
            : `wrote ${opts.out}: ${voxels} voxels in slices ${summary.range[0]}..${summary.range[1]} (support slices ${perOrgan[0]!.supportSlices.join(', ')})`;
          process.stdout.write(opts.json ? `${JSON.stringify(summary, null, 2)}\n` : `${text}\n`);
          return EXIT.ok;
        } catch (error) {
          await dump?.abandon();
          if (error instanceof ShapeError) throw new CliError(error.message);
          throw error;
        } finally {
          compute.release();
        }
      }),
    );
}
