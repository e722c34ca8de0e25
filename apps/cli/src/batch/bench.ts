/**
 * `synpo bench --only batch`: throughput of whole cases, CHAOS fold 0 (support scan 8, four
 * query scans, all four organs in one pass): the embedded batch with one and two jobs, and the
 * queue with two local worker processes on a redis-server started for the run. Scans per minute,
 * query slices per second, and the encoder work the one-pass organs saved.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PropagationSteps } from '@synpo/core';
import { caseContext, runPool, type RunOpts } from './pool.ts';
import { parseManifest } from './manifest.ts';

export interface BatchBenchRow {
  how: string;
  scans: number;
  seconds: number;
  scansPerMinute: number;
  slicesPerSecond: number;
  /** With several jobs: the volumes' propagation steps and the chains (submissions on the GPU) they ran in. */
  propagation?: { steps: number; chains: number };
}

export interface BatchBenchReport {
  device: string;
  rows: BatchBenchRow[];
  /** Query slices encoded against organ-slices segmented (what one run per organ would encode). */
  encodedSlices: number;
  organSlices: number;
  /** Why the queue row is missing, when it is. */
  queueSkipped?: string;
}

const BIN = fileURLToPath(new URL('../../bin/synpo.js', import.meta.url));
const QUERIES = [1, 2, 3, 5];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      })
      .on('error', reject);
  });
}

const ping = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      c.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    c.on('error', () => resolve(false));
  });

function run(args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code));
  });
}

export async function runBatchBench(dataDir: string, opts: RunOpts, log: (m: string) => void): Promise<BatchBenchReport> {
  const dir = mkdtempSync(join(tmpdir(), 'synpo-batch-bench-'));
  try {
    const manifestFor = (out: string) => {
      const path = join(dir, `${out}.csv`);
      writeFileSync(
        path,
        [
          'support_image,support_label,query,out,organs',
          ...QUERIES.map((q) => `${dataDir}/image_8.nii.gz,${dataDir}/label_8.nii.gz,${dataDir}/image_${q}.nii.gz,${out}/q${q}.nii.gz,all`),
        ].join('\n'),
      );
      return path;
    };
    const rows: BatchBenchRow[] = [];
    const { ctx, release } = await caseContext({ ...opts, force: true });
    let encodedSlices = 0;
    let organSlices = 0;
    try {
      for (const jobs of [1, 2]) {
        log(`bench batch: ${QUERIES.length} CHAOS scans, all organs, --jobs ${jobs}`);
        const manifest = manifestFor(`jobs${jobs}`);
        const cases = parseManifest(readFileSync(manifest, 'utf8'), manifest);
        const t0 = performance.now();
        const steps = new PropagationSteps();
        const results = await runPool(cases, jobs, jobs > 1 ? { ...ctx, steps } : ctx, async () => {});
        const seconds = (performance.now() - t0) / 1000;
        const failed = results.filter((r) => r.status !== 'done');
        if (failed.length) throw new Error(`bench batch: ${failed.map((f) => f.error).join('; ')}`);
        const slices = results.reduce((n, r) => n + (r.encodedSlices ?? 0), 0);
        encodedSlices = slices;
        organSlices = results.reduce((n, r) => n + (r.organSlices ?? 0), 0);
        rows.push({
          how: `synpo batch --jobs ${jobs}`,
          scans: results.length,
          seconds,
          scansPerMinute: (60 * results.length) / seconds,
          slicesPerSecond: slices / seconds,
          ...(jobs > 1 && { propagation: { ...steps.stats } }),
        });
      }
    } finally {
      release();
    }
    // The queue: a redis-server of our own, two worker processes that stop when it is empty.
    let queueSkipped: string | undefined;
    const port = await freePort();
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const started = await new Promise<boolean>((resolve) => {
      redis.on('error', () => resolve(false));
      (async () => {
        for (let i = 0; i < 50; i++) {
          if (await ping(port)) return resolve(true);
          await new Promise((r) => setTimeout(r, 100));
        }
        resolve(false);
      })();
    });
    try {
      if (!started) {
        queueSkipped = 'no redis-server here (scripts/setup-system.sh installs it)';
      } else {
        log('bench batch: the queue with two local workers');
        const url = `redis://127.0.0.1:${port}`;
        const device = ['--device', opts.device, ...(opts.adapter ? ['--adapter', opts.adapter] : [])];
        const t0 = performance.now();
        await run(['queue', 'submit', '--redis', url, '--manifest', manifestFor('queue')]);
        const codes = await Promise.all([0, 1].map(() => run(['queue', 'worker', '--redis', url, '--until-empty', ...device])));
        const seconds = (performance.now() - t0) / 1000;
        if (codes.some((c) => c !== 0)) throw new Error(`bench batch: a queue worker exited with ${codes.join(', ')}`);
        if ((await run(['queue', 'wait', '--redis', url, '--timeout', '5'])) !== 0) throw new Error('bench batch: the queue did not finish every case');
        rows.push({
          how: 'synpo queue, 2 local workers',
          scans: QUERIES.length,
          seconds,
          scansPerMinute: (60 * QUERIES.length) / seconds,
          slicesPerSecond: encodedSlices / seconds,
        });
      }
    } finally {
      redis.kill('SIGTERM');
    }
    return { device: ctx.kernels.path, rows, encodedSlices, organSlices, ...(queueSkipped && { queueSkipped }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
