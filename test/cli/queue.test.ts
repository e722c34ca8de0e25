/**
 * `synpo queue` on a real redis-server (Debian's, started here on a free port in a temporary
 * folder): two workers, six cases and a poison one; one worker killed with SIGKILL mid-case.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA, synpo } from './run.ts';
import { itWithData } from '../support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;
const BIN = fileURLToPath(new URL('../../apps/cli/bin/synpo.js', import.meta.url));

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1', () => c.write('PING\r\n'));
    c.on('data', (d) => {
      c.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    c.on('error', () => resolve(false));
  });
}

let redis: ChildProcess | null = null;
let url = '';

beforeAll(async () => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'synpo-redis-'));
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !(await ping(port)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await ping(port))) throw new Error('redis-server did not start (scripts/setup-system.sh installs it)');
  url = `redis://127.0.0.1:${port}`;
});

afterAll(() => {
  redis?.kill('SIGTERM');
});

/** A worker process, its output collected line by line. */
function worker(...args: string[]): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, 'queue', 'worker', '--redis', url, '--device', 'cpu', '--lock-seconds', '2', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  child.stdout!.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited };
}

type Status = { counts: Record<string, number>; failed: { row: number; error: string; attempts: number }[] };
const status = async (queue: string) => JSON.parse((await synpo('queue', 'status', '--redis', url, '--queue', queue, '--json')).stdout) as Status;

describe('synpo queue on redis-server', () => {
  itWithData(
    ['chaos-t2'],
    'two workers, one killed mid-case: every case written once, as the embedded batch writes it; the poison case fails once',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'synpo-queue-'));
      const queries = [1, 2, 3, 5, 10, 13];
      const manifest = (out: string) =>
        [
          'support_image,support_label,query,out,organs',
          ...queries.map((q) => `${CHAOS}image_8.nii.gz,${CHAOS}label_8.nii.gz,${CHAOS}image_${q}.nii.gz,${out}/q${q}.nii.gz,liver`),
          `${CHAOS}image_8.nii.gz,${CHAOS}label_8.nii.gz,${join(dir, 'missing.nii.gz')},${out}/poison.nii.gz,liver`,
        ].join('\n');
      writeFileSync(join(dir, 'queue.csv'), manifest(join(dir, 'queue')));
      writeFileSync(join(dir, 'batch.csv'), manifest(join(dir, 'batch')));
      const q = ['--redis', url, '--queue', 'kill-test'];

      expect((await synpo('queue', 'submit', ...q, '--manifest', join(dir, 'queue.csv'))).stdout).toMatch(/^7 job\(s\) added/);
      // Submitting again adds nothing.
      expect((await synpo('queue', 'submit', ...q, '--manifest', join(dir, 'queue.csv'))).stdout).toMatch(
        /^0 job\(s\) added to queue kill-test, 7 already there/,
      );

      // Worker A takes a job; then B starts, and A is killed while its case runs.
      const a = worker('--queue', 'kill-test');
      for (let i = 0; i < 200 && (await status('kill-test')).counts.active === 0; i++) await new Promise((r) => setTimeout(r, 100));
      const b = worker('--queue', 'kill-test');
      await new Promise((r) => setTimeout(r, 500));
      a.child.kill('SIGKILL');
      expect(await a.exited).toBeNull();

      const waited = await synpo('queue', 'wait', ...q, '--timeout', '240');
      expect(waited.code, waited.stderr).toBe(1); // the poison case failed
      expect(waited.stdout).toMatch(/done 6, failed 1/);
      const s = await status('kill-test');
      expect(s.failed).toHaveLength(1);
      expect(s.failed[0]!.row).toBe(7);
      expect(s.failed[0]!.error).toMatch(/missing\.nii\.gz: no such file/);
      expect(s.failed[0]!.attempts).toBe(1); // bad input is not retried
      b.child.kill('SIGTERM');
      expect(await b.exited).toBe(0); // a graceful stop

      // Each case was written once (a job delivered again finds its output up to date) ...
      const done = [...a.lines, ...b.lines]
        .map((l) => JSON.parse(l) as { row: number; status: string })
        .filter((l) => l.status === 'done')
        .map((l) => l.row)
        .sort();
      expect(done).toEqual([1, 2, 3, 4, 5, 6]);
      // ... and is what the embedded batch writes, with nothing else left in the folder.
      const batch = await synpo('batch', join(dir, 'batch.csv'), '--device', 'cpu', '--jobs', '2', '--no-progress');
      expect(batch.code).toBe(1);
      for (const qn of queries) {
        expect(readFileSync(join(dir, 'queue', `q${qn}.nii.gz`)).equals(readFileSync(join(dir, 'batch', `q${qn}.nii.gz`)))).toBe(true);
      }
      expect(readdirSync(join(dir, 'queue')).filter((f) => !f.endsWith('.nii.gz') && !f.endsWith('.synpo.json') && !f.startsWith('.'))).toEqual([]);
      expect(existsSync(join(dir, 'queue', 'poison.nii.gz'))).toBe(false);
    },
    400_000,
  );

  it('refuses a Redis URL that is not one, and says when Redis cannot be reached', async () => {
    const bad = await synpo('queue', 'status', '--redis', 'http://x');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/use a redis:\/\/host:port URL/);
    const port = await freePort();
    const down = await synpo('queue', 'status', '--redis', `redis://127.0.0.1:${port}`);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+/);
  });
});
