/**
 * Odd and broken inputs, one row each: the input made by the test, the exit code, the message's
 * key words, and the file system afterwards (every file that was there is unchanged, nothing
 * new but what the row writes, no temporary or partial files). The README's "Bad input" list
 * follows this table. A real signal mid-run ends the file.
 */
import { createHash } from 'node:crypto';
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodeImage2D, decodeNifti } from '@synpo/io';
import { readNifti } from '@synpo/io/node';
import { asDicomSeries, DATA, niftiWithAffine, synpo } from './run.ts';
import { describeWithData, itWithData, type DataSet } from '../support/data.ts';

const MR = `${DATA}totalseg/example_mr_sm.nii.gz`;
const MR_LABELS = `${DATA}totalseg/example_seg_mr.nii.gz`;
const AMOS = `${DATA}amos-2d/`;

/** Every entry under dir: a hash for files, the kind for anything else. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      const info = lstatSync(path);
      const key = relative(dir, path);
      if (info.isDirectory()) {
        out.set(key, 'folder');
        walk(path);
      } else if (info.isFile()) out.set(key, createHash('sha1').update(readFileSync(path)).digest('hex'));
      else out.set(key, 'special');
    }
  };
  walk(dir);
  return out;
}

/** What a row sets up in its own folder, and what it runs. */
interface Setup {
  args: string[];
  /** Paths (relative to the row's folder) the run may create or replace; everything else stays as it was. */
  writes?: string[];
}

interface Row {
  name: string;
  setup(dir: string): Setup | Promise<Setup>;
  code: number;
  message: RegExp;
  /** More checks on the folder afterwards. */
  after?(dir: string, stdout: string): void | Promise<void>;
  /** The data sets the row reads (default: TotalSegmentator's MR, which `segment` copies). */
  data?: DataSet[];
}

/** The small TotalSegmentator MR as support and query, copied into the row's folder (inputs the test can watch). */
function mrCase(dir: string): { support: string[]; query: string } {
  copyFileSync(MR, join(dir, 'image.nii.gz'));
  copyFileSync(MR_LABELS, join(dir, 'labels.nii.gz'));
  copyFileSync(MR, join(dir, 'query.nii.gz'));
  return { support: ['--support-image', join(dir, 'image.nii.gz'), '--support-label', join(dir, 'labels.nii.gz')], query: join(dir, 'query.nii.gz') };
}

/** `synpo segment` on the MR case, liver, slices 8..9 (a second of work), with extra arguments. */
function segment(dir: string, extra: string[], opts: { out?: string; organ?: string; query?: string } = {}): string[] {
  const { support, query } = mrCase(dir);
  return [
    'segment',
    ...support,
    '--organ',
    opts.organ ?? '5',
    '--labels',
    'totalseg',
    '--query',
    opts.query ?? query,
    '--slices',
    '8:9',
    '--out',
    opts.out ?? join(dir, 'mask.nii.gz'),
    '--device',
    'cpu',
    '--no-progress',
    ...extra,
  ];
}

/** The MR query as a DICOM series in `folder` (uid `series`), slices numbered from `first`. */
async function dicomQuery(folder: string, series: string, first = 0): Promise<void> {
  asDicomSeries(await readNifti(MR), folder, series, { first });
}

/** A DICOM folder compressed file by file with GDCM's gdcmconv. */
function compress(from: string, to: string, flags: string[]): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) execFileSync('gdcmconv', [...flags, join(from, name), join(to, name)], { stdio: 'ignore' });
}

const rows: Row[] = [
  // Outputs that would destroy data.
  {
    name: "--dump is a folder holding the user's files",
    code: 2,
    message: /--dump .*mine exists and holds files synpo did not write \(notes\.txt\); it is never replaced/,
    setup: (d) => {
      mkdirSync(join(d, 'mine'));
      writeFileSync(join(d, 'mine', 'notes.txt'), 'keep me');
      return { args: segment(d, ['--dump', join(d, 'mine')]) };
    },
  },
  {
    name: '--dump is an existing file',
    code: 2,
    message: /--dump .*notes\.txt exists and is a file/,
    setup: (d) => {
      writeFileSync(join(d, 'notes.txt'), 'keep me');
      return { args: segment(d, ['--dump', join(d, 'notes.txt')]) };
    },
  },
  {
    name: '--dump is --out',
    code: 2,
    message: /--out .*mask\.nii\.gz and --dump .*mask\.nii\.gz are the same place/,
    setup: (d) => ({ args: segment(d, ['--dump', join(d, 'mask.nii.gz')]) }),
  },
  {
    name: '--out is the query',
    code: 2,
    message: /--out .*query\.nii\.gz would overwrite the input --query/,
    setup: (d) => ({ args: segment(d, [], { out: join(d, 'query.nii.gz') }) }),
  },
  {
    name: '--out is a hard link to the support label',
    code: 2,
    message: /--out .*link\.nii\.gz would overwrite the input --support-label/,
    setup: (d) => {
      const args = segment(d, [], { out: join(d, 'link.nii.gz') });
      linkSync(join(d, 'labels.nii.gz'), join(d, 'link.nii.gz'));
      return { args };
    },
  },
  {
    name: '--dump is the folder the inputs are in',
    code: 2,
    message: /--dump .* would overwrite the input --support-image/,
    setup: (d) => ({ args: segment(d, ['--dump', d], { out: join(tmpdir(), `synpo-never-${process.pid}.nii.gz`) }) }),
  },
  {
    name: '--out is a folder',
    code: 2,
    message: /--out .*given\.nii\.gz is a folder; give a file name/,
    setup: (d) => {
      mkdirSync(join(d, 'given.nii.gz'));
      return { args: segment(d, [], { out: join(d, 'given.nii.gz') }) };
    },
  },
  {
    name: 'a previous dump without --force',
    code: 2,
    message: /holds a previous dump; pass --force to replace it/,
    setup: (d) => {
      mkdirSync(join(d, 'dump'));
      writeFileSync(join(d, 'dump', '.synpo-dump'), '{}');
      writeFileSync(join(d, 'dump', 'old.npy'), 'x');
      return { args: segment(d, ['--dump', join(d, 'dump')]) };
    },
  },
  {
    name: 'a previous dump with --force (replaced)',
    code: 0,
    message: /^$/,
    setup: (d) => {
      mkdirSync(join(d, 'dump'));
      writeFileSync(join(d, 'dump', '.synpo-dump'), '{}');
      writeFileSync(join(d, 'dump', 'old.npy'), 'x');
      return { args: segment(d, ['--dump', join(d, 'dump'), '--force']), writes: ['dump', 'mask.nii.gz'] };
    },
    after: (d) => {
      expect(readdirSync(join(d, 'dump')).sort()).toEqual(['.synpo-dump', 'slice-0008', 'slice-0009']);
    },
  },
  // Values and labels.
  {
    name: '--value 256 (written as uint16)',
    code: 0,
    message: /^$/,
    setup: (d) => ({ args: segment(d, ['--value', '256']), writes: ['mask.nii.gz'] }),
    after: (d) => {
      const m = decodeNifti(new Uint8Array(readFileSync(join(d, 'mask.nii.gz'))), 'm');
      expect(new Set(m.data)).toEqual(new Set([0, 256]));
    },
  },
  { name: '--value 0', code: 2, message: /--value must be a whole number from 1 to 65535, got '0'/, setup: (d) => ({ args: segment(d, ['--value', '0']) }) },
  {
    name: '--value 70000',
    code: 2,
    message: /--value must be a whole number from 1 to 65535, got '70000'/,
    setup: (d) => ({ args: segment(d, ['--value', '70000']) }),
  },
  {
    name: '--organ 0 (the background)',
    code: 2,
    message: /label 0 is the background, not an organ; the support label .*labels\.nii\.gz has labels 1, 2, 3, 4, 5, /,
    setup: (d) => ({ args: segment(d, [], { organ: '0' }) }),
  },
  {
    name: 'an organ absent from the support',
    code: 1,
    message: /has no voxel with value 200 .*it has 1, 2, 3, 4, 5, /,
    setup: (d) => ({ args: segment(d, [], { organ: '200' }) }),
  },
  {
    name: 'a seed that is not a number',
    code: 2,
    message: /--seed must be a whole number from 0 to 4294967295, got 'abc'/,
    setup: (d) => ({ args: segment(d, ['--seed', 'abc']) }),
  },
  {
    name: 'a slice index that is not whole',
    code: 2,
    message: /--slice must be a whole number ≥ 0, got '1\.5'/,
    setup: (d) => ({ args: segment(d, ['--slice', '1.5']).filter((a, i, all) => a !== '--slices' && all[i - 1] !== '--slices') }),
  },
  {
    name: 'batch --jobs 0',
    code: 2,
    data: [],
    message: /--jobs must be a whole number from 1 to 64, got '0'/,
    setup: (d) => {
      writeFileSync(join(d, 'm.csv'), 'support_image,support_label,query,out\n');
      return { args: ['batch', join(d, 'm.csv'), '--jobs', '0'] };
    },
  },
  {
    name: 'a batch case whose output folder cannot be made (checked before the first case)',
    code: 1,
    message: /row 1: cannot write .*notes\.txt\/out\/p1\.nii\.gz: .*notes\.txt is not a folder/,
    setup: (d) => {
      const { query } = mrCase(d);
      writeFileSync(join(d, 'notes.txt'), 'keep me');
      writeFileSync(join(d, 'm.csv'), `support_image,support_label,query,out\nimage.nii.gz,labels.nii.gz,${query},notes.txt/out/p1.nii.gz\n`);
      return { args: ['batch', join(d, 'm.csv'), '--device', 'cpu', '--labels', 'totalseg'] };
    },
  },
  {
    name: 'eval with a data folder that lacks a case its fold reads (before the evaluation)',
    code: 2,
    message:
      /lacks image_8\.nii\.gz, label_8\.nii\.gz, which fold 0 of chaos-t2 read \(it has cases 1, 2, 3, 5\): pick other --folds or --support, or pass --data DIR/,
    setup: (d) => {
      // Only the names are looked at before the evaluation: empty files stand in for the scans.
      for (const id of [1, 2, 3, 5]) for (const kind of ['image', 'label']) writeFileSync(join(d, `${kind}_${id}.nii.gz`), '');
      return { args: ['eval', '--layout', 'chaos-t2', '--folds', '0', '--data', d, '--device', 'cpu'] };
    },
  },
  {
    name: 'eval with a data folder that holds no fold',
    code: 2,
    message: /holds no fold's queries of sabs-ct \(it has no case of that layout\): pass --data DIR/,
    setup: (d) => ({ args: ['eval', '--layout', 'sabs-ct', '--data', d, '--device', 'cpu'] }),
  },
  {
    name: 'eval with a data folder that does not exist',
    code: 2,
    message: /the data folder .*nowhere does not exist or cannot be read: pass --data DIR/,
    setup: (d) => ({ args: ['eval', '--data', join(d, 'nowhere'), '--device', 'cpu'] }),
  },
  {
    name: 'eval --out to a folder that does not exist (before the evaluation)',
    code: 1,
    data: ['chaos-t2'],
    message: /cannot write .*nowhere\/report\.json: its folder .*nowhere does not exist or is not writable/,
    setup: (d) => ({ args: ['eval', '--layout', 'chaos-t2', '--device', 'cpu', '--out', join(d, 'nowhere', 'report.json')] }),
  },
  // DICOM series.
  {
    name: 'a DICOM folder holding two series',
    code: 1,
    message: /holds 2 series; pick one with --series UID:\n {2}1\.2\.826\.7: series .*20 slices of 117×91\n {2}1\.2\.826\.8: series .*20 slices/,
    setup: async (d) => {
      await dicomQuery(join(d, 'dicom'), '1.2.826.7');
      await dicomQuery(join(d, 'dicom'), '1.2.826.8', 100);
      return { args: segment(d, [], { query: join(d, 'dicom') }) };
    },
  },
  {
    name: '--series picks one of two',
    code: 0,
    message: /^$/,
    setup: async (d) => {
      await dicomQuery(join(d, 'dicom'), '1.2.826.7');
      await dicomQuery(join(d, 'dicom'), '1.2.826.8', 100);
      return { args: segment(d, ['--series', '1.2.826.8']), writes: ['mask.nii.gz'] };
    },
  },
  {
    name: 'a DICOM series with a missing slice',
    code: 1,
    message: /about 1 slice\(s\) missing: .* between .*IM0006 and .*IM0008/,
    setup: async (d) => {
      await dicomQuery(join(d, 'dicom'), '1.2.826.7');
      rmSync(join(d, 'dicom', 'IM0007'));
      return { args: segment(d, [], { query: join(d, 'dicom') }) };
    },
  },
  {
    name: 'a DICOM series with two slices at one position',
    code: 1,
    message: /two slices at one position .*: .*IM0005 and .*IM0005copy/,
    setup: async (d) => {
      await dicomQuery(join(d, 'dicom'), '1.2.826.7');
      copyFileSync(join(d, 'dicom', 'IM0005'), join(d, 'dicom', 'IM0005copy'));
      return { args: segment(d, [], { query: join(d, 'dicom') }) };
    },
  },
  {
    name: 'a JPEG-LS compressed DICOM series (decoded)',
    code: 0,
    message: /^$/,
    setup: async (d) => {
      await dicomQuery(join(d, 'plain'), '1.2.826.7');
      compress(join(d, 'plain'), join(d, 'dicom'), ['--jpegls']);
      return { args: segment(d, [], { query: join(d, 'dicom') }), writes: ['mask.nii.gz'] };
    },
  },
  {
    name: 'a DICOM series in a syntax no decoder reads (refused by name)',
    code: 1,
    message: /IM0000: compressed DICOM \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51, JPEG Extended \(Process 2 & 4\)\) is not supported/,
    setup: async (d) => {
      await dicomQuery(join(d, 'plain'), '1.2.826.7');
      compress(join(d, 'plain'), join(d, 'dicom'), ['--jpegls']);
      // Relabel one file as JPEG Extended (a UID of the same length).
      const file = join(d, 'dicom', 'IM0000');
      const bytes = readFileSync(file);
      bytes.write('1.2.840.10008.1.2.4.51', bytes.indexOf('1.2.840.10008.1.2.4.80'), 'latin1');
      writeFileSync(file, bytes);
      return { args: segment(d, [], { query: join(d, 'dicom') }) };
    },
  },
  // Readers.
  {
    name: 'a NIfTI whose vox_offset is inside the header',
    code: 1,
    message: /query: .*short\.nii: vox_offset 100 is inside the header/,
    setup: (d) => {
      const bytes = niftiWithAffine([4, 4, 2], new Float32Array(32).fill(1), [
        [-1, 0, 0, 0],
        [0, -1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ]);
      new DataView(bytes.buffer).setFloat32(108, 100, true);
      writeFileSync(join(d, 'short.nii'), bytes);
      return { args: segment(d, [], { query: join(d, 'short.nii') }) };
    },
  },
  {
    name: 'a .nii.gz with a bad CRC',
    code: 1,
    message: /bad\.nii\.gz: the gzip stream is corrupt: CRC-32/,
    setup: (d) => {
      const z = gzipSync(new Uint8Array(readFileSync(MR).length));
      z[z.length - 7] = z[z.length - 7]! ^ 0x5a;
      writeFileSync(join(d, 'bad.nii.gz'), z);
      return { args: segment(d, [], { query: join(d, 'bad.nii.gz') }) };
    },
  },
  {
    name: 'an empty file',
    code: 1,
    message: /empty\.nii\.gz: is empty \(0 bytes\)/,
    setup: (d) => {
      writeFileSync(join(d, 'empty.nii.gz'), '');
      return { args: segment(d, [], { query: join(d, 'empty.nii.gz') }) };
    },
  },
  { name: 'a missing folder', code: 1, message: /query: .*gone: no such file or folder/, setup: (d) => ({ args: segment(d, [], { query: join(d, 'gone') }) }) },
  {
    name: 'a FIFO (refused without reading it)',
    code: 1,
    message: /query: .*pipe\.nii: is not a regular file \(a FIFO, device or socket\)/,
    setup: (d) => {
      execFileSync('mkfifo', [join(d, 'pipe.nii')]);
      return { args: segment(d, [], { query: join(d, 'pipe.nii') }) };
    },
  },
  {
    name: 'a palette PNG label (read through its palette)',
    code: 0,
    data: ['amos-2d'],
    message: /^$/,
    setup: (d) => {
      // The AMOS liver mask with index 0 → white and 1 → black: read as indices it would be inverted.
      const grey = decodeImage2D(readFileSync(`${AMOS}masks/amos_0004_75_liver_000.png`), 'grey');
      const indices = Uint8Array.from(grey.data, (v) => (v ? 0 : 1));
      writeFileSync(
        join(d, 'palette.png'),
        encodePng({
          width: grey.width,
          height: grey.height,
          data: indices,
          depth: 8,
          channels: 1,
          palette: [
            [255, 255, 255],
            [0, 0, 0],
          ],
        }),
      );
      const common = ['--support-image', `${AMOS}images/amos_0004_75.png`, '--query', `${AMOS}images/amos_0006_90.png`, '--band', 'sabs-ct', '--device', 'cpu'];
      writeFileSync(join(d, 'args.json'), JSON.stringify(common));
      return { args: ['segment', ...common, '--support-label', join(d, 'palette.png'), '--out', join(d, 'mask.png')], writes: ['mask.png'] };
    },
    after: async (d) => {
      const common = JSON.parse(readFileSync(join(d, 'args.json'), 'utf8')) as string[];
      const reference = join(tmpdir(), `synpo-grey-${process.pid}.png`);
      expect((await synpo('segment', ...common, '--support-label', `${AMOS}masks/amos_0004_75_liver_000.png`, '--out', reference)).code).toBe(0);
      expect(readFileSync(join(d, 'mask.png')).equals(readFileSync(reference))).toBe(true);
      rmSync(reference);
    },
  },
  // A blank query.
  {
    name: 'a blank (constant) query',
    code: 0,
    message: /warning: the query .*blank\.nii is blank \(one intensity throughout the slices to segment\): the mask is empty/,
    setup: (d) => {
      writeFileSync(
        join(d, 'blank.nii'),
        niftiWithAffine([117, 91, 20], new Float32Array(117 * 91 * 20).fill(42), [
          [-3, 0, 0, 0],
          [0, -3, 0, 0],
          [0, 0, 3, 0],
          [0, 0, 0, 1],
        ]),
      );
      return { args: segment(d, [], { query: join(d, 'blank.nii') }), writes: ['mask.nii.gz'] };
    },
    after: (d) => {
      expect(decodeNifti(new Uint8Array(readFileSync(join(d, 'mask.nii.gz'))), 'm').data.every((v) => v === 0)).toBe(true);
    },
  },
];

describe('bad input: exit code, message, and the files afterwards', () => {
  for (const row of rows) {
    itWithData(row.data ?? ['totalseg'], `${row.name}: exit ${row.code}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'synpo-bad-'));
      const { args, writes = [] } = await row.setup(dir);
      const before = snapshot(dir);
      const r = await synpo(...args);
      expect(r.code, r.stderr).toBe(row.code);
      expect(r.stderr).toMatch(row.message);
      // The library's own "synpo: …" errors are not prefixed twice.
      expect(r.stderr).not.toMatch(/synpo: synpo:/);
      if (row.code !== 0)
        expect(
          r.stderr
            .split('\n')
            .filter(Boolean)
            .every((l) => l.startsWith('synpo: ') || l.startsWith('  ')),
        ).toBe(true);
      const after = snapshot(dir);
      const allowed = (key: string) => writes.some((w) => key === w || key.startsWith(`${w}/`));
      // Every input is untouched; nothing new but what the row writes; no temporary or partial files.
      for (const [key, hash] of before) if (!allowed(key)) expect(after.get(key), `${key} changed`).toBe(hash);
      for (const key of after.keys()) if (!before.has(key)) expect(allowed(key), `${key} appeared`).toBe(true);
      expect([...after.keys()].filter((k) => /\.tmp$|\.partial-\d+/.test(k))).toEqual([]);
      await row.after?.(dir, r.stdout);
    });
  }
});

const bin = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));

describeWithData(['chaos-t2'], 'interrupted runs leave nothing behind', () => {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} during a volume run with --dump: exit ${code}, no partial dump, no output, no temporary file`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'synpo-signal-'));
      const dump = join(dir, 'dump');
      const out = join(dir, 'mask.nii.gz');
      const chaos = `${DATA}chaos-t2/`;
      const child = spawn(
        process.execPath,
        [
          bin,
          'segment',
          '--support-image',
          `${chaos}image_8.nii.gz`,
          '--support-label',
          `${chaos}label_8.nii.gz`,
          '--organ',
          'liver',
          '--query',
          `${chaos}image_1.nii.gz`,
          '--out',
          out,
          '--dump',
          dump,
          '--device',
          'cpu',
          '--no-progress',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      // Wait until the dump is being written (a slice folder in DIR.partial-<pid>), then signal.
      const partial = `${dump}.partial-${child.pid}`;
      const deadline = Date.now() + 120_000;
      while (!(existsSync(partial) && readdirSync(partial).some((n) => n.startsWith('slice-')))) {
        if (Date.now() > deadline) throw new Error(`no partial dump after 120 s: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill(signal);
      expect(await exited).toBe(code);
      expect(stderr).toMatch(new RegExp(`synpo: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}; removed 1 partial output`));
      expect(readdirSync(dir)).toEqual([]);
    });
  }
});
