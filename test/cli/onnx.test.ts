/** The ONNX backend through the CLI, on a synthetic model directory (cpu and webgpu providers). */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNifti } from '@synpo/io';
import { writeModelDir } from '../../packages/core/test/fixtures/model-dir.ts';
import { DATA, requireGpu, synpo } from './run.ts';
import { itWithData } from '../support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;
const models = writeModelDir();

/** `synpo segment` with the ONNX backend from `dir`: CHAOS case 8's right kidney onto slices 14–15 of case 1, written to `out`, on the CPU path. */
function segmentOnnx(dir: string, out: string, ...extra: string[]) {
  return synpo(
    'segment',
    '--backend',
    'onnx',
    '--models',
    dir,
    ...extra,
    '--support-image',
    `${CHAOS}image_8.nii.gz`,
    '--support-label',
    `${CHAOS}label_8.nii.gz`,
    '--organ',
    'right-kidney',
    '--query',
    `${CHAOS}image_1.nii.gz`,
    '--slices',
    '14:15',
    '--out',
    out,
    '--device',
    'cpu',
  );
}

describe('synpo models synthetic', () => {
  it('writes a directory that models check accepts', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'synpo-synthetic-')), 'models');
    expect((await synpo('models', 'synthetic', dir)).code).toBe(0);
    const r = await synpo('models', 'check', dir, '--json');
    expect(r.code, r.stdout).toBe(0);
    expect((JSON.parse(r.stdout) as { ok: boolean }).ok).toBe(true);
  });
});

describe("models the way the paper's exports come, through the command", () => {
  for (const flags of [['--external-data'], ['--float16'], ['--float16', '--external-data']]) {
    itWithData(['chaos-t2'], `models synthetic ${flags.join(' ')}: models check accepts it and segment runs on it`, async () => {
      const dir = join(mkdtempSync(join(tmpdir(), 'synpo-synthetic-')), 'models');
      expect((await synpo('models', 'synthetic', dir, ...flags)).code).toBe(0);
      if (flags.includes('--external-data')) expect(existsSync(join(dir, 'dinov2.onnx.data'))).toBe(true);
      const check = await synpo('models', 'check', dir, '--json');
      expect(check.code, check.stdout).toBe(0);
      const report = JSON.parse(check.stdout) as { ok: boolean; models: { inputs: { type?: string }[] }[] };
      expect(report.ok).toBe(true);
      if (flags.includes('--float16')) expect(report.models.every((m) => m.inputs.every((i) => i.type === 'float16'))).toBe(true);
      const out = join(mkdtempSync(join(tmpdir(), 'synpo-onnx-')), 'rk.nii.gz');
      const r = await segmentOnnx(dir, out);
      expect(r.code, r.stderr).toBe(0);
      expect(decodeNifti(new Uint8Array(readFileSync(out)), out).data.some((v) => v > 0)).toBe(true);
    });
  }

  it('a missing external-data file is named before any volume is read', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'synpo-synthetic-')), 'models');
    await synpo('models', 'synthetic', dir, '--external-data');
    rmSync(join(dir, 'sam2_encoder.onnx.data'));
    const r = await synpo('models', 'check', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/sam2_encoder\.onnx\.data: cannot read external data of sam2_encoder\.onnx \(no such file\)/);
  });
});

describe('synpo models check', () => {
  it('loads, checks and runs a good directory', async () => {
    const r = await synpo('models', 'check', models);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/all models load and match the manifest/);
    expect(r.stdout).toMatch(/dummy run: encoders and decoder ran/);
  });

  it('names the file and the problem in a broken directory, and exits 1', async () => {
    const broken = writeModelDir(undefined, (m) => {
      m.samDecoder.outputs = { masks: 'masks', iou: 'iou_predictions' };
    });
    const r = await synpo('models', 'check', broken);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/sam2_decoder\.onnx: has no output named "masks"/);
  });

  it('segment refuses a broken directory before reading any volume', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'synpo-nomodels-'));
    const r = await synpo(
      'segment',
      '--backend',
      'onnx',
      '--models',
      empty,
      '--support-image',
      '/nonexistent.nii.gz',
      '--support-label',
      '/nonexistent.nii.gz',
      '--organ',
      'liver',
      '--query',
      '/nonexistent.nii.gz',
      '--out',
      join(empty, 'm.nii.gz'),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/manifest\.json: cannot read|no such file/);
    expect(r.stderr).not.toMatch(/support image/);
  });

  it('export explains what it needs when Python lacks the packages', async () => {
    const r = await synpo('models', 'export', join(mkdtempSync(join(tmpdir(), 'synpo-export-')), 'out'), '--python', '/usr/bin/python3');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lacks torch, transformers, sam2 or onnx/);
  });
});

describe.each(['cpu', 'webgpu'])('segment and eval with --backend onnx (%s)', (ep) => {
  /** Whether onnxruntime-node here runs `ep` (else it falls back to cpu, and the run would test the CPU twice). */
  const runsHere = async () => {
    const r = await synpo('models', 'check', models, '--ep', ep, '--json');
    return (JSON.parse(r.stdout) as { models: { provider: string }[] }).models.every((m) => m.provider === ep);
  };

  itWithData(['chaos-t2'], 'segment writes a mask through the ONNX encoders and decoder', async (ctx) => {
    if (!(await runsHere()) && !requireGpu) return ctx.skip(`onnxruntime-node here has no ${ep} execution provider`);
    const out = join(mkdtempSync(join(tmpdir(), 'synpo-onnx-')), 'rk.nii.gz');
    const r = await segmentOnnx(models, out, '--ep', ep, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { providers: Record<string, string> }).providers).toEqual({ dino: ep, samEncoder: ep, samDecoder: ep });
    const mask = decodeNifti(new Uint8Array(readFileSync(out)), out);
    expect(mask.dims).toEqual([256, 256, 37]);
    expect(mask.data.some((v) => v > 0)).toBe(true);
  });

  itWithData(['chaos-t2'], 'eval runs one fold and organ', async (ctx) => {
    if (!(await runsHere()) && !requireGpu) return ctx.skip(`onnxruntime-node here has no ${ep} execution provider`);
    const out = join(mkdtempSync(join(tmpdir(), 'synpo-onnx-')), 'report.json');
    const r = await synpo(
      'eval',
      '--backend',
      'onnx',
      '--models',
      models,
      '--ep',
      ep,
      '--folds',
      '0',
      '--organs',
      'spleen',
      '--device',
      'cpu',
      '--out',
      out,
      '--no-progress',
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(out, 'utf8')) as { backend: string; scans: unknown[]; providers: Record<string, string> };
    expect(report.backend).toBe('onnx');
    expect(report.providers).toEqual({ dino: ep, samEncoder: ep, samDecoder: ep });
    expect(report.scans).toHaveLength(4);
  });
});
