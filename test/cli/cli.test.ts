/** The synpo command end to end, as a user runs it: exit codes, output, files, clean exit. */
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireGpu, synpo } from './run.ts';

describe('synpo', () => {
  it('--help lists the commands', async () => {
    const r = await synpo('--help');
    expect(r.code).toBe(0);
    for (const command of ['info', 'bench', 'demo', 'kernel-demo', 'segment', 'eval']) expect(r.stdout).toContain(command);
  });

  it('an unknown command is a usage error (exit 2)', async () => {
    const r = await synpo('segmnt');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'segmnt'/);
  });

  it('a wrong --device value is a usage error', async () => {
    const r = await synpo('kernel-demo', '--device', 'tpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Allowed choices are auto, gpu, cpu/);
  });

  it('info reports the adapter and the path auto takes, then exits', async () => {
    const r = await synpo('info', '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as {
      autoPath: string;
      adapter: { description: string; isFallbackAdapter: boolean; limits: Record<string, number> } | null;
    };
    if (requireGpu) {
      // auto prefers the CPU references to a software adapter such as CI's lavapipe.
      expect(info.autoPath).toBe(info.adapter!.isFallbackAdapter ? 'cpu' : 'gpu');
      expect(info.adapter!.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    } else {
      expect(['gpu', 'cpu']).toContain(info.autoPath);
    }
  });

  it('kernel-demo on the GPU matches the CPU references and finds the organ', async () => {
    const r = await synpo('kernel-demo', '--json', '--device', requireGpu ? 'gpu' : 'auto');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      path: string;
      dice: number;
      maxAbsDiffVsCpu: number | null;
      positives: number[];
      checks: { stage: string; ok: boolean }[];
    };
    if (requireGpu) expect(out.path).toBe('gpu');
    if (out.path === 'gpu') {
      expect(out.maxAbsDiffVsCpu).toBeLessThan(1e-5);
      // Every kernel of the walk was checked, and agreed.
      expect([...new Set(out.checks.map((c) => c.stage))]).toEqual([
        'prototype',
        'confidence',
        'synergy',
        'moments',
        'band',
        'topk',
        'kmeans',
        'morphology',
        'components',
        'bestComponent',
      ]);
      expect(out.checks.filter((c) => !c.ok)).toEqual([]);
    }
    expect(out.dice).toBeGreaterThan(0.8);
    expect(out.positives.length).toBe(8);
  });

  it('kernel-demo is deterministic for a seed', async () => {
    const a = JSON.parse((await synpo('kernel-demo', '--json', '--device', 'cpu', '--seed', '7')).stdout) as { negatives: number[] };
    const b = JSON.parse((await synpo('kernel-demo', '--json', '--device', 'cpu', '--seed', '7')).stdout) as { negatives: number[] };
    expect(a.negatives).toEqual(b.negatives);
  });

  it('bench --json writes a whole report file and no temporary file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synpo-bench-'));
    const out = join(dir, 'bench.json');
    const r = await synpo('bench', '--quick', '--reps', '1', '--only', 'synergy,moments,pipeline,postencoder', '--json', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    type Transfers = { uploadBytesPerSlice: number; readbackBytesPerSlice: number; submitsPerSlice: number; mapsPerSlice: number };
    const report = JSON.parse(await readFile(out, 'utf8')) as {
      kernels: { kernel: string; cpuMs: number; gpuMs: number | null }[];
      pipeline: { path: string; total: number; decoder: number; transfers?: Transfers }[];
      postEncoder: { sizes: { dino: number; sam: number }; rows: { path: string; total: number; stages: Record<string, number> }[] };
    };
    expect(report.kernels.map((k) => k.kernel)).toEqual(['synergy', 'moments']);
    expect(report.pipeline.length).toBeGreaterThanOrEqual(1);
    for (const row of report.pipeline) expect(row.total).toBeGreaterThan(row.decoder);
    expect(report.postEncoder.sizes).toMatchObject({ dino: 1536, sam: 256 });
    expect(report.postEncoder.rows.at(-1)!.path).toBe('cpu');
    for (const row of report.postEncoder.rows) expect(row.total).toBeGreaterThan(0);
    if (requireGpu) {
      expect(report.kernels.every((k) => k.gpuMs !== null && k.gpuMs > 0)).toBe(true);
      const gpu = report.pipeline.find((p) => p.transfers)!;
      expect(Object.keys(gpu.transfers!)).toEqual(expect.arrayContaining(['uploadBytesPerSlice', 'readbackBytesPerSlice', 'submitsPerSlice', 'mapsPerSlice']));
      expect(report.postEncoder.rows.map((x) => x.path)).toEqual(['gpu-resident', 'gpu-upload', 'cpu']);
    }
    expect(await readdir(dir)).toEqual(['bench.json']);
  });

  it('bench times the ONNX encoders and decoder per execution provider', async () => {
    const r = await synpo('bench', '--quick', '--only', 'onnx', '--json');
    expect(r.code, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { onnx: { provider: string; dino: number; samEncoder: number; samDecoder: number }[] }).onnx;
    expect(rows.map((x) => x.provider)).toEqual(['cpu', 'webgpu']);
    for (const row of rows) expect(Math.min(row.dino, row.samEncoder, row.samDecoder)).toBeGreaterThan(0);
  });

  it('bench --out to an unwritable place fails clearly and leaves nothing', async () => {
    const r = await synpo('bench', '--quick', '--reps', '1', '--only', 'synergy', '--out', '/nonexistent-dir/bench.json');
    expect(r.code).toBe(1);
    // Checked before the benchmark runs, not after.
    expect(r.stderr).toMatch(/cannot write \/nonexistent-dir\/bench.json: its folder \/nonexistent-dir does not exist or is not writable/);
    expect(r.stdout).toBe('');
  });
});
