/** `synpo batch`: a manifest of cases, resumable, one failing case not stopping the others. */
import { mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNifti } from '@synpo/io';
import { DATA, requireGpu, synpo } from './run.ts';
import { describeWithData } from '../support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;

/** A scratch folder with a copy of the support files (so the test may touch them) and a manifest. */
function project(rows: string[]): { dir: string; manifest: string } {
  const dir = mkdtempSync(join(tmpdir(), 'synpo-batch-'));
  for (const f of ['image_8.nii.gz', 'label_8.nii.gz']) writeFileSync(join(dir, f), readFileSync(`${CHAOS}${f}`));
  const manifest = join(dir, 'cases.csv');
  writeFileSync(manifest, ['support_image,support_label,query,out,organs,query_label', ...rows].join('\n'));
  return { dir, manifest };
}

const row = (q: number, organs: string) => `image_8.nii.gz,label_8.nii.gz,${CHAOS}image_${q}.nii.gz,out/q${q}.nii.gz,"${organs}",${CHAOS}label_${q}.nii.gz`;

type Log = { row: number; status: string; threads?: number; error?: string; organs?: { name: string; dice?: number }[] };
const readLog = (path: string) =>
  readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Log)
    .sort((a, b) => a.row - b.row);

describeWithData(['chaos-t2'], 'synpo batch', () => {
  it('runs every case, records each in the log, finishes the others when one fails, and exits 1', async () => {
    const { dir, manifest } = project([
      row(1, 'liver;spleen'),
      `image_8.nii.gz,label_8.nii.gz,${join(dir0(), 'missing.nii.gz')},out/bad.nii.gz,liver,`,
      row(2, 'right-kidney'),
    ]);
    const r = await synpo('batch', manifest, '--device', 'cpu', '--jobs', '2', '--threads', '2', '--no-progress');
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/3 cases in \d+ s: 2 done, 0 skipped \(up to date\), 1 failed/);
    const log = readLog(join(dir, 'cases.log.jsonl'));
    expect(log.map((l) => l.status)).toEqual(['done', 'failed', 'done']);
    expect(log[1]!.error).toMatch(/missing\.nii\.gz: no such file/);
    expect(log[0]!.organs!.map((o) => o.name)).toEqual(['liver', 'spleen']);
    expect(log[0]!.organs![0]!.dice).toBeGreaterThan(0.3);
    const labels = decodeNifti(new Uint8Array(readFileSync(join(dir, 'out/q1.nii.gz'))), 'q1');
    expect([...new Set(labels.data)].sort()).toEqual([0, 1, 4]);
    expect(existsSync(join(dir, 'out/bad.nii.gz'))).toBe(false);
    // The two organs of row 1 ran on two threads, row 2's one organ on one; one thread writes row 1's labels too.
    expect([log[0]!.threads, log[2]!.threads]).toEqual([2, 1]);
    const single = join(dir, 'single.nii.gz');
    const one = await synpo(
      'segment',
      ...['--support-image', join(dir, 'image_8.nii.gz'), '--support-label', join(dir, 'label_8.nii.gz'), '--query', `${CHAOS}image_1.nii.gz`],
      ...['--organs', 'liver,spleen', '--threads', '1', '--device', 'cpu', '--out', single, '--no-progress'],
    );
    expect(one.code, one.stderr).toBe(0);
    expect(decodeNifti(new Uint8Array(readFileSync(single)), 'single').data).toEqual(labels.data);
  });

  it('resumes: skips up-to-date cases, redoes those whose inputs or options changed; --jobs 2 writes what --jobs 1 writes', async () => {
    const { dir, manifest } = project([row(1, 'liver'), row(2, 'spleen')]);
    expect((await synpo('batch', manifest, '--device', 'cpu', '--no-progress')).code).toBe(0);
    const first = readFileSync(join(dir, 'out/q1.nii.gz'));
    const written = statSync(join(dir, 'out/q2.nii.gz')).mtimeMs;
    let r = await synpo('batch', manifest, '--device', 'cpu', '--jobs', '2', '--no-progress');
    expect(r.stdout).toMatch(/0 done, 2 skipped/);
    expect(statSync(join(dir, 'out/q2.nii.gz')).mtimeMs).toBe(written);
    // A changed input (the support's time) redoes every case that uses it; a changed option too.
    utimesSync(join(dir, 'label_8.nii.gz'), new Date(), new Date(Date.now() + 5000));
    r = await synpo('batch', manifest, '--device', 'cpu', '--jobs', '2', '--no-progress');
    expect(r.stdout).toMatch(/2 done, 0 skipped/);
    expect(readFileSync(join(dir, 'out/q1.nii.gz')).equals(first)).toBe(true);
    r = await synpo('batch', manifest, '--device', 'cpu', '--seed', '5', '--no-progress');
    expect(r.stdout).toMatch(/2 done, 0 skipped/);
    r = await synpo('batch', manifest, '--device', 'cpu', '--seed', '5', '--force', '--no-progress');
    expect(r.stdout).toMatch(/2 done, 0 skipped/);
  });

  it('refuses a manifest with bad rows, naming each row, before any work', async () => {
    const { dir, manifest } = project([
      row(1, 'liver'),
      'image_8.nii.gz,label_8.nii.gz,,out/x.nii.gz,,',
      `image_8.nii.gz,label_8.nii.gz,${CHAOS}image_2.nii.gz,out/q1.nii.gz,,`,
      `image_8.nii.gz,label_8.nii.gz,${CHAOS}image_2.nii.gz,out/x.png,,`,
      'image_8.nii.gz,label_8.nii.gz',
    ]);
    const r = await synpo('batch', manifest, '--device', 'cpu', '--no-progress');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/row 2: query missing/);
    expect(r.stderr).toMatch(/row 3: out out\/q1\.nii\.gz is also the output of row 1/);
    expect(r.stderr).toMatch(/row 4: out out\/x\.png must be a \.nii\.gz, \.nii, \.nrrd or \.dcm \(DICOM SEG\) file/);
    expect(r.stderr).toMatch(/row 5: 2 fields, the header has 6/);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    const jsonl = join(dir, 'cases.jsonl');
    writeFileSync(jsonl, `{"support_image":"a.nii.gz","support_label":"b.nii.gz","query":"c.nii.gz","out":"d.nii.gz"}\n{ not json\n`);
    const j = await synpo('batch', jsonl, '--device', 'cpu', '--no-progress');
    expect(j.stderr).toMatch(/row 2: not a JSON object/);
  });

  it('--adapter names an adapter; one the machine does not have is refused with the list', async (ctx) => {
    if (!requireGpu) return ctx.skip('needs a WebGPU adapter (CI has lavapipe)');
    const { manifest } = project([row(1, 'liver')]);
    const r = await synpo('batch', manifest, '--device', 'gpu', '--adapter', 'no-such-gpu', '--no-progress');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no adapter named like "no-such-gpu".*Available adapters/);
  });
});

function dir0(): string {
  return mkdtempSync(join(tmpdir(), 'synpo-none-'));
}
