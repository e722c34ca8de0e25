/** `synpo segment`, `eval` and `demo` end to end on shared/data and the phantom, bad input included. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeImage2D, decodeNifti, decodeNpy } from '@synpo/io';
import { readNifti } from '@synpo/io/node';
import { gzipSync } from 'node:zlib';
import { DATA, float32Nifti, synpo } from './run.ts';
import { dataIn, describeWithData, itWithData } from '../support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;
const tmp = () => mkdtempSync(join(tmpdir(), 'synpo-cli-'));
const support = ['--support-image', `${CHAOS}image_8.nii.gz`, '--support-label', `${CHAOS}label_8.nii.gz`];

describeWithData(['chaos-t2'], 'synpo segment --organs', () => {
  it('takes a support whose organ skips a slice: the 5/6 support slice moves to the nearest one that has it', async () => {
    // CHAOS case 3's left kidney is in slices 3..18 but 16, the 5/6 slice of its range.
    const out = join(tmp(), 'lk.nii.gz');
    const gap = ['--support-image', `${CHAOS}image_3.nii.gz`, '--support-label', `${CHAOS}label_3.nii.gz`];
    const r = await synpo('segment', ...gap, '--organ', 'left-kidney', '--query', `${CHAOS}image_1.nii.gz`, '--device', 'cpu', '--json', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { supportSlices: number[] }).supportSlices).toEqual([5, 11, 15]);
    expect(decodeNifti(new Uint8Array(readFileSync(out)), out).data.some((v) => v)).toBe(true);
  });

  it('writes every organ into one label volume in one pass, each as its own run writes it', async () => {
    const dir = tmp();
    const out = join(dir, 'all.nii.gz');
    const args = ['--query', `${CHAOS}image_1.nii.gz`, '--slices', '14:17', '--device', 'cpu', '--json'];
    const r = await synpo('segment', ...support, '--organs', 'all', '--threads', '1', '--out', out, ...args);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as {
      organs: { name: string; value: number; voxels: number }[];
      encodedSlices: number;
      organSlices: number;
      overlapPixels: number;
    };
    expect(summary.organs.map((o) => [o.name, o.value])).toEqual([
      ['liver', 1],
      ['right-kidney', 2],
      ['left-kidney', 3],
      ['spleen', 4],
    ]);
    expect(summary.encodedSlices).toBe(4);
    expect(summary.organSlices).toBe(16);
    const labels = decodeNifti(new Uint8Array(readFileSync(out)), out);
    // Organs dealt over two threads: the same labels, each slice encoded once between them.
    const threaded = join(dir, 'threads.nii.gz');
    const t = await synpo('segment', ...support, '--organs', 'all', '--threads', '2', '--out', threaded, ...args);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout) as { threads: number; encodedSlices: number }).toMatchObject({ threads: 2, encodedSlices: 4 });
    expect(decodeNifti(new Uint8Array(readFileSync(threaded)), threaded).data).toEqual(labels.data);
    for (const organ of ['liver', 'spleen']) {
      const single = join(dir, `${organ}.nii.gz`);
      expect((await synpo('segment', ...support, '--organ', organ, '--out', single, ...args)).code).toBe(0);
      const alone = decodeNifti(new Uint8Array(readFileSync(single)), single);
      const value = summary.organs.find((o) => o.name === organ)!.value;
      // Same voxels, but where another organ won an overlap.
      let differ = 0;
      alone.data.forEach((v, i) => {
        if ((v !== 0) !== (labels.data[i] === value) && !(v !== 0 && labels.data[i] !== 0)) differ++;
      });
      expect(differ).toBe(0);
      expect(alone.data.some((v) => v)).toBe(true);
    }
    // --value maps organs to other values.
    const mapped = join(dir, 'mapped.nii.gz');
    expect((await synpo('segment', ...support, '--organs', 'liver,spleen', '--value', 'liver=10,spleen=20', '--out', mapped, ...args)).code).toBe(0);
    const values = new Set(decodeNifti(new Uint8Array(readFileSync(mapped)), mapped).data);
    expect([...values].sort((a, b) => a - b)).toEqual([0, 10, 20]);
  });

  it('--propagation-agreement: slices that agree with their neighbour keep their own masks, fewer are segmented again; --propagation-anchor-stride', async () => {
    const dir = tmp();
    const liver = [...support, '--organ', 'liver', '--query', `${CHAOS}image_1.nii.gz`];
    const run = async (extra: string[]) => {
      const out = join(dir, `liver${extra.join('')}.nii.gz`);
      const r = await synpo('segment', ...liver, '--device', 'cpu', '--json', '--out', out, ...extra);
      expect(r.code, r.stderr).toBe(0);
      return {
        ...(JSON.parse(r.stdout) as { propagatedSlices: number; perSliceSlices: number; organSlices: number }),
        labels: decodeNifti(new Uint8Array(readFileSync(out)), out).data,
      };
    };
    const every = await run([]);
    const agreeing = await run(['--propagation-agreement', '0.8']);
    // By default every slice but the anchor is segmented by the pass.
    expect(every.propagatedSlices).toBe(every.organSlices - 1);
    expect(agreeing.propagatedSlices).toBeLessThan(every.propagatedSlices);
    expect(agreeing.organSlices).toBe(every.organSlices);
    expect(Buffer.from(agreeing.labels.buffer).equals(Buffer.from(every.labels.buffer))).toBe(false);
    const refused = await synpo('segment', ...liver, '--out', join(dir, 'x.nii.gz'), '--propagation-agreement', '1.5');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--propagation-agreement/);
    expect(existsSync(join(dir, 'x.nii.gz'))).toBe(false);
    // --propagation-anchor-stride 1: every slice segmented on its own first; the pass still
    // segments every slice but the anchor.
    const firstAll = await run(['--propagation-anchor-stride', '1']);
    expect(firstAll.propagatedSlices).toBe(firstAll.organSlices - 1);
    expect(firstAll.perSliceSlices).toBe(firstAll.organSlices);
    // By default only every 8th slice is segmented on its own first.
    expect(every.perSliceSlices).toBe(Math.ceil((every.organSlices - Math.floor(((every.organSlices - 1) % 8) / 2)) / 8));
    expect(agreeing.perSliceSlices).toBe(agreeing.organSlices);
    for (const bad of ['0', '1.5']) {
      const no = await synpo('segment', ...liver, '--out', join(dir, 'x.nii.gz'), '--propagation-anchor-stride', bad);
      expect(no.code).toBe(2);
      expect(no.stderr).toMatch(/--propagation-anchor-stride/);
      expect(existsSync(join(dir, 'x.nii.gz'))).toBe(false);
    }
  });

  it('refuses what cannot be meant, before any work', async () => {
    const out = join(tmp(), 'x.nii.gz');
    const q = ['--query', `${CHAOS}image_1.nii.gz`, '--out', out];
    for (const [args, message] of [
      [['--organ', 'liver', '--organs', 'spleen'], /--organ or --organs, not both/],
      [['--organs', 'liver,liver'], /names an organ twice/],
      [['--organs', 'liver,spleen', '--value', '3'], /takes name=value pairs/],
      [['--organs', 'liver', '--value', 'kidney=3'], /not among the organs/],
    ] as [string[], RegExp][]) {
      const r = await synpo('segment', ...support, ...args, ...q);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describeWithData(['chaos-t2'], 'synpo segment', () => {
  it('writes a NIfTI mask with the query header, and --dump writes every intermediate', async () => {
    const dir = tmp();
    const out = join(dir, 'liver.nii.gz');
    const dump = join(dir, 'dump');
    const r = await synpo(
      'segment',
      ...support,
      '--organ',
      'liver',
      '--query',
      `${CHAOS}image_1.nii.gz`,
      '--slices',
      '16:18',
      '--out',
      out,
      '--dump',
      dump,
      '--json',
      '--device',
      'cpu',
    );
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { voxels: number; range: number[]; supportSlices: number[] };
    expect(summary.range).toEqual([16, 18]);
    expect(summary.supportSlices).toHaveLength(3);

    const mask = decodeNifti(new Uint8Array(readFileSync(out)), out);
    const query = await readNifti(`${CHAOS}image_1.nii.gz`);
    const truth = await readNifti(`${CHAOS}label_1.nii.gz`);
    expect(mask.dims).toEqual(query.dims);
    expect(mask.affine).toEqual(query.affine);
    let tp = 0,
      fp = 0,
      fn = 0;
    mask.data.forEach((v, i) => {
      const t = truth.data[i] === 1;
      if (v && t) tp++;
      else if (v) fp++;
      else if (t && Math.floor(i / 65536) >= 16 && Math.floor(i / 65536) <= 18) fn++;
    });
    expect(mask.data.every((v, i) => v === 0 || (Math.floor(i / 65536) >= 16 && Math.floor(i / 65536) <= 18))).toBe(true);
    expect((2 * tp) / (2 * tp + fp + fn)).toBeGreaterThan(0.4);

    expect(readdirSync(dump).sort()).toEqual(['.synpo-dump', 'slice-0016', 'slice-0017', 'slice-0018']);
    const files = readdirSync(join(dump, 'slice-0017')).sort();
    expect(files).toEqual([
      'coarse.npy',
      'conf_dino.npy',
      'conf_sam.npy',
      'final.npy',
      'query_feat_dino.npy',
      'query_feat_sam.npy',
      'summary.json',
      'support_feat_dino.npy',
      'support_feat_sam.npy',
      'support_mask_grid.npy',
      'synmap.npy',
      'synmap_neg.npy',
    ]);
    const npy = (name: string) => decodeNpy(new Uint8Array(readFileSync(join(dump, 'slice-0017', name))));
    expect(npy('query_feat_sam.npy').shape.slice(0, 2)).toEqual([64, 64]);
    expect(npy('support_feat_dino.npy').data).toBeInstanceOf(Float32Array);
    expect(npy('support_mask_grid.npy').data).toBeInstanceOf(Uint8Array);
    expect(npy('synmap.npy').shape).toEqual([64, 64]);
    const grid = Array.from(npy('support_mask_grid.npy').data);
    expect(npy('synmap_neg.npy').shape).toEqual([4096 - grid.reduce((a: number, v: number) => a + v, 0)]);
    expect(npy('final.npy').shape).toEqual([256, 256]);
    const s = JSON.parse(readFileSync(join(dump, 'slice-0017', 'summary.json'), 'utf8')) as Record<string, unknown>;
    for (const key of ['mu', 'sigma', 'alpha', 'beta', 'positives', 'negatives']) expect(s).toHaveProperty(key);
    expect((s.positives as unknown[]).length).toBe(4);
    expect(readdirSync(dir).sort()).toEqual(['dump', 'liver.nii.gz']);
  });

  itWithData(['amos-2d'], 'segments a PNG slice from a PNG support (AMOS CT, liver), and a volume slice to PNG', async () => {
    const dir = tmp();
    const out = join(dir, 'liver.png');
    const amos = `${DATA}amos-2d/`;
    const r = await synpo(
      'segment',
      '--support-image',
      `${amos}images/amos_0004_75.png`,
      '--support-label',
      `${amos}masks/amos_0004_75_liver_000.png`,
      '--query',
      `${amos}images/amos_0006_90.png`,
      '--out',
      out,
      '--band',
      'sabs-ct',
      '--device',
      'cpu',
    );
    expect(r.code, r.stderr).toBe(0);
    const mask = decodeImage2D(readFileSync(out), out);
    const truth = decodeImage2D(readFileSync(`${amos}masks/amos_0006_90_liver_000.png`), 'truth');
    expect([mask.width, mask.height]).toEqual([truth.width, truth.height]);
    let tp = 0,
      fp = 0,
      fn = 0;
    mask.data.forEach((v, i) => {
      const t = truth.data[i]! > 0;
      if (v && t) tp++;
      else if (v) fp++;
      else if (t) fn++;
    });
    expect((2 * tp) / (2 * tp + fp + fn)).toBeGreaterThan(0.3);

    const one = join(dir, 'slice.png');
    const r2 = await synpo(
      'segment',
      ...support,
      '--organ',
      'spleen',
      '--query',
      `${CHAOS}image_1.nii.gz`,
      '--slice',
      '20',
      '--support-slice',
      '17',
      '--out',
      one,
      '--device',
      'cpu',
    );
    expect(r2.code, r2.stderr).toBe(0);
    expect(decodeImage2D(readFileSync(one), one).width).toBe(256);
  });

  it('the same seed gives the same mask file', async () => {
    const dir = tmp();
    const args = [...support, '--organ', 'right-kidney', '--query', `${CHAOS}image_2.nii.gz`, '--slices', '10:11', '--device', 'cpu', '--seed', '5'];
    expect((await synpo('segment', ...args, '--out', join(dir, 'a.nii'))).code).toBe(0);
    expect((await synpo('segment', ...args, '--out', join(dir, 'b.nii'))).code).toBe(0);
    expect(readFileSync(join(dir, 'a.nii')).equals(readFileSync(join(dir, 'b.nii')))).toBe(true);
  });

  itWithData(['totalseg'], 'resamples a query of another in-plane size, and says so', async () => {
    const out = join(tmp(), 'mr.nii.gz');
    const r = await synpo(
      'segment',
      ...support,
      '--organ',
      'liver',
      '--query',
      `${DATA}totalseg/example_mr_sm.nii.gz`,
      '--slices',
      '8:9',
      '--out',
      out,
      '--device',
      'cpu',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/support is 256×256 in-plane, query 117×91: both are resampled to 256×256/);
    expect(decodeNifti(new Uint8Array(readFileSync(out)), out).dims).toEqual([117, 91, 20]);
  });

  const dir = tmp();
  const nanFile = join(dir, 'nan.nii');
  const data = new Float32Array(8 * 8 * 2).fill(1);
  data[70] = Number.NaN;
  writeFileSync(nanFile, float32Nifti([8, 8, 2], data));
  const fourD = join(dir, 'four.nii');
  writeFileSync(fourD, float32Nifti([4, 4, 2, 3], new Float32Array(96)));
  const truncated = join(dir, 'cut.nii.gz');
  // A gzip stream cut short (a real volume's first kilobytes; a synthetic one, so no data set is needed).
  const whole = gzipSync(
    float32Nifti(
      [64, 64, 8],
      Float32Array.from({ length: 64 * 64 * 8 }, (_, i) => (i * 7919) % 251),
    ),
  );
  writeFileSync(truncated, whole.subarray(0, whole.length >> 1));
  const bad: [string, string[], number, RegExp][] = [
    ['the organ is absent from the support label', [...support, '--organ', '7', '--query', `${CHAOS}image_1.nii.gz`], 1, /has no voxel with value 7/],
    [
      'support and query of different dimensionality',
      [
        '--support-image',
        `${DATA}amos-2d/images/amos_0004_75.png`,
        '--support-label',
        `${DATA}amos-2d/masks/amos_0004_75_liver_000.png`,
        '--query',
        `${CHAOS}image_1.nii.gz`,
      ],
      1,
      /the support is 2-D .* but the query is 3-D/,
    ],
    ['NaN voxels', [...support, '--organ', 'liver', '--query', nanFile], 1, /nan\.nii: voxel 70 \(x 6, y 0, z 1\) is NaN/],
    ['a 4-D volume', [...support, '--organ', 'liver', '--query', fourD], 1, /four\.nii: is a 4-D volume/],
    ['an unreadable file', [...support, '--organ', 'liver', '--query', join(dir, 'missing.nii.gz')], 1, /missing\.nii\.gz: no such file/],
    ['a truncated .nii.gz', [...support, '--organ', 'liver', '--query', truncated], 1, /cut\.nii\.gz: the gzip stream is corrupt or truncated/],
    [
      'an unwritable output folder',
      [...support, '--organ', 'liver', '--query', `${CHAOS}image_1.nii.gz`, '--out-override'],
      1,
      /cannot write \/nonexistent\/out\.nii\.gz/,
    ],
    [
      'an unknown output format',
      [...support, '--organ', 'liver', '--query', `${CHAOS}image_1.nii.gz`, '--out-format'],
      2,
      /use a \.nii\.gz, \.nii, \.nrrd, \.dcm \(DICOM SEG\) or \.png file name/,
    ],
    ['an unknown organ name', [...support, '--organ', 'pancreas', '--query', `${CHAOS}image_1.nii.gz`], 2, /unknown organ 'pancreas'/],
    [
      'a support slice without the organ',
      [...support, '--organ', 'liver', '--support-slice', '0', '--query', `${CHAOS}image_1.nii.gz`],
      1,
      /support slice 0 has none of the [a-z-]+; it is in slices/,
    ],
  ];
  for (const [name, args, code, message] of bad) {
    itWithData(dataIn(args), `refuses ${name} (exit ${code}) and leaves no output file`, async () => {
      const outDir = tmp();
      let out = join(outDir, 'mask.nii.gz');
      const a = args.filter((x) => !x.startsWith('--out-'));
      if (args.includes('--out-override')) out = '/nonexistent/out.nii.gz';
      if (args.includes('--out-format')) out = join(outDir, 'mask.mha');
      const r = await synpo('segment', ...a, '--out', out, '--device', 'cpu');
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(readdirSync(outDir)).toEqual([]);
    });
  }
});

describe('synpo eval', () => {
  itWithData(['chaos-t2'], 'runs the protocol on one fold and organ and writes the JSON report', async () => {
    const out = join(tmp(), 'report.json');
    const r = await synpo('eval', '--layout', 'chaos-t2', '--folds', '0', '--organs', 'right-kidney', '--device', 'cpu', '--out', out, '--no-progress');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\| μ \| [\d.]+ \| [\d.]+ \|/);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { scans: { scan: number; dice: number }[]; organs: { organ: string; mean: number }[] };
    expect(report.scans.map((s) => s.scan)).toEqual([1, 2, 3, 5]);
    expect(report.organs[0]!.mean).toBeGreaterThan(0.3);
    expect(report.organs[0]!.mean).toBeLessThanOrEqual(1);
  });

  itWithData(['sabs-ct'], 'runs the folds whose queries the data folder holds: SABS fold 0 alone here', async () => {
    const out = join(tmp(), 'report.json');
    const r = await synpo('eval', '--layout', 'sabs-ct', '--organs', 'spleen', '--device', 'cpu', '--out', out, '--no-progress');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { folds: number[]; scans: { scan: number }[] };
    expect(report.folds).toEqual([0]);
    expect(report.scans.map((s) => s.scan)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  itWithData(['chaos-t2'], '--support makes another case the support: case 3, whose left kidney skips its 5/6 slice', async () => {
    const out = join(tmp(), 'report.json');
    const r = await synpo('eval', '--folds', '0', '--organs', 'left-kidney', '--support', '3', '--device', 'cpu', '--out', out, '--no-progress');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('case 3 the support of every fold');
    const report = JSON.parse(readFileSync(out, 'utf8')) as { support: number; scans: { scan: number; dice: number }[] };
    expect(report.support).toBe(3);
    expect(report.scans.map((s) => s.scan)).toEqual([1, 2, 5, 8]);
    for (const s of report.scans) expect(s.dice).toBeGreaterThan(0.3);
  });

  it('refuses a fold outside the layout, an unknown organ and a support that is not a case', async () => {
    expect((await synpo('eval', '--folds', '7')).stderr).toMatch(/--folds must be a whole number from 0 to 4, got '7'/);
    expect((await synpo('eval', '--organs', 'heart')).stderr).toMatch(/unknown organ 'heart'/);
    const r = await synpo('eval', '--support', '4');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--support 4: chaos-t2 has no such case \(cases: 1, 2, 3, 5, 8,/);
  });
});

describe('synpo demo', () => {
  it('segments the phantom with no files and writes the overlay', async () => {
    const out = join(tmp(), 'demo.png');
    const r = await synpo('demo', '--patients', '2', '--json', '--out', out, '--device', 'cpu');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { dice: Record<string, number>; mean: number };
    expect(Object.keys(summary.dice).sort()).toEqual(['left-kidney', 'liver', 'right-kidney', 'spleen']);
    expect(summary.mean).toBeGreaterThan(0.5);
    expect(existsSync(out)).toBe(true);
    expect(decodeImage2D(readFileSync(out), out).height).toBe(256);
  });
});
