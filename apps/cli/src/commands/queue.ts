/**
 * `synpo queue`: a batch spread over machines with BullMQ on Redis. `submit` puts one job per
 * case of a manifest (the job id is a hash of the case and its options, so submitting a case
 * again is a no-op), `worker` runs cases on this machine's GPU, `status` counts them and lists
 * the failures, `wait` returns when none is left (exit 1 if any failed).
 *
 * Inputs and outputs are paths every worker reads and writes (shared storage). Delivery is at
 * least once; a case's output is written atomically with a record of its inputs, so a job run
 * twice (a worker killed mid-job: BullMQ's stalled-job check hands it to another) writes the same
 * file. Bad input fails a job once (UnrecoverableError); anything else is retried with backoff.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import { parseManifest, type BatchCase } from '../batch/manifest.ts';
import { runCase, type CaseContext } from '../batch/run-case.ts';
import { CliError, EXIT } from '../errors.ts';
import { handOverSignals } from '../files.ts';
import { decimal, integer, parseInteger } from '../numbers.ts';
import { caseContext, type RunOpts } from '../batch/pool.ts';
import { withCaseRunner, withCaseSettings, type Runner } from '../options.ts';
import { DEFAULT_OPTIONS } from '@synpo/core';

/** What a job carries: the case and every option that changes its output. */
interface JobData {
  case: BatchCase;
  options: Pick<
    RunOpts,
    'backend' | 'models' | 'ep' | 'seed' | 'band' | 'intensity' | 'labels' | 'propagate' | 'propagationAgreement' | 'propagationAnchorStride' | 'atlas'
  >;
}

interface QueueOpts {
  redis: string;
  queue: string;
}

/**
 * `redis://[:password@]host:port[/db]` as connection options. A worker never gives up on Redis
 * (it waits out a restart); the other commands give up after a few tries and say so.
 */
export function redisConnection(url: string, worker = false): ConnectionOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CliError(`--redis ${url}: not a URL; use redis://host:port`, EXIT.usage);
  }
  if (u.protocol !== 'redis:') throw new CliError(`--redis ${url}: use a redis://host:port URL`, EXIT.usage);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.password && { password: decodeURIComponent(u.password) }),
    ...(db && { db: parseInteger('--redis database', db, { min: 0, max: 15 }) }),
    ...(worker
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, connectTimeout: 3000, retryStrategy: (times: number) => (times > 3 ? null : 250) }),
  };
}

function queueOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--redis <url>', 'the Redis every machine shares, e.g. redis://10.0.0.5:6379')
    .option('--queue <name>', 'queue name (several batches may share one Redis)', 'synpo');
}

async function withQueue<R>(opts: QueueOpts, f: (q: Queue) => Promise<R>): Promise<R> {
  const q = new Queue(opts.queue, { connection: redisConnection(opts.redis) });
  try {
    await q.waitUntilReady();
    return await f(q);
  } catch (error) {
    if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection is closed|max retries/i.test((error as Error).message))
      throw new CliError(`cannot reach Redis at ${opts.redis}: ${(error as Error).message}`);
    throw error;
  } finally {
    await q.close();
  }
}

export function queueCommand(program: Command, run: Runner): void {
  const queue = program.command('queue').description('spread a batch over machines: a job queue on Redis (BullMQ)');

  const submit = queue
    .command('submit')
    .description('put one job per case of a manifest; a case already submitted (the same case and options) is not added again')
    .requiredOption('--manifest <file>', 'the cases (CSV or JSON Lines, as for `synpo batch`); paths must be readable by every worker')
    .option('--attempts <n>', 'tries per job for transient failures (bad input fails at once)', integer('--attempts', { min: 1, max: 100 }), 3);
  queueOptions(submit)
    .addOption(new Option('--backend <name>', 'models: weight-free or onnx').choices(['weight-free', 'onnx']).default('weight-free'))
    .option('--models <dir>', 'model directory for --backend onnx (a path every worker can read)')
    .addOption(new Option('--ep <provider>', 'ONNX Runtime execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'));
  withCaseSettings(submit).action(
    run(async (opts: QueueOpts & JobData['options'] & { manifest: string; attempts: number }) => {
      if (opts.backend === 'onnx' && !opts.models) throw new CliError('--backend onnx needs --models DIR', EXIT.usage);
      const cases = parseManifest(
        await readFile(opts.manifest, 'utf8').catch((e: NodeJS.ErrnoException) => {
          throw new CliError(`cannot read the manifest ${opts.manifest}: ${e.code ?? e.message}`);
        }),
        opts.manifest,
      );
      const options: JobData['options'] = {
        backend: opts.backend,
        ...(opts.models && { models: opts.models }),
        ep: opts.ep,
        seed: opts.seed,
        band: opts.band,
        intensity: opts.intensity,
        labels: opts.labels,
        propagate: opts.propagate ?? true,
        propagationAgreement: opts.propagationAgreement ?? DEFAULT_OPTIONS.propagation.agreement,
        propagationAnchorStride: opts.propagationAnchorStride ?? DEFAULT_OPTIONS.propagation.anchorStride,
        atlas: opts.atlas ?? true,
      };
      return withQueue(opts, async (q) => {
        const jobs = cases.map((c) => {
          const data: JobData = { case: c, options };
          const jobId = createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 40);
          return {
            name: `row ${c.row}`,
            data,
            opts: { jobId, attempts: opts.attempts, backoff: { type: 'exponential', delay: 5000 }, removeOnComplete: false, removeOnFail: false },
          };
        });
        const before = await q.count();
        const existing = await Promise.all(jobs.map((j) => q.getJob(j.opts.jobId)));
        await q.addBulk(jobs);
        const added = existing.filter((e) => !e).length;
        process.stdout.write(`${added} job(s) added to queue ${opts.queue}, ${cases.length - added} already there (${before} waiting before)\n`);
        return EXIT.ok;
      });
    }),
  );

  const worker = queue
    .command('worker')
    .description('run jobs on this machine until SIGTERM or SIGINT (then finish the jobs in hand and stop)')
    .option('--concurrency <n>', 'jobs at a time in this process (they share the models and the GPU)', integer('--concurrency', { min: 1, max: 64 }), 1)
    .option(
      '--lock-seconds <s>',
      "how long a job is held without a heartbeat before another worker may take it (a killed worker's job waits this long)",
      decimal('--lock-seconds', { min: 1, max: 86400 }),
      30,
    )
    .option('--until-empty', 'stop once no job is waiting or running (for scripts and benchmarks)')
    .option('--force', 'redo cases whose output is up to date');
  queueOptions(withCaseRunner(worker)).action(
    run(async (opts: QueueOpts & RunOpts & { concurrency: number; lockSeconds: number; untilEmpty?: boolean }) => {
      // One model set per backend the jobs name, loaded on first use and kept.
      const contexts = new Map<string, Promise<{ ctx: CaseContext; release(): void }>>();
      const contextFor = (o: JobData['options']) => {
        const key = JSON.stringify([o.backend, o.models, o.ep]);
        if (!contexts.has(key)) contexts.set(key, caseContext({ ...opts, ...o }));
        return contexts.get(key)!;
      };
      const lockDuration = Math.round(opts.lockSeconds * 1000);
      const w = new Worker<JobData>(
        opts.queue,
        async (job) => {
          const { ctx } = await contextFor(job.data.options);
          const options = {
            ...ctx.options,
            seed: job.data.options.seed,
            band: job.data.options.band,
            intensity: job.data.options.intensity,
            labels: job.data.options.labels,
            propagate: job.data.options.propagate ?? true,
            propagationAgreement: job.data.options.propagationAgreement ?? DEFAULT_OPTIONS.propagation.agreement,
            propagationAnchorStride: job.data.options.propagationAnchorStride ?? DEFAULT_OPTIONS.propagation.anchorStride,
            atlas: job.data.options.atlas ?? true,
          };
          const r = await runCase(job.data.case, { ...ctx, options });
          const line = { job: job.id, row: r.row, status: r.status, seconds: r.seconds, ...(r.error && { error: r.error }) };
          process.stdout.write(`${JSON.stringify(line)}\n`);
          if (r.status === 'failed') throw r.permanent ? new UnrecoverableError(r.error) : new Error(r.error);
          return r;
        },
        { connection: redisConnection(opts.redis, true), concurrency: opts.concurrency, lockDuration, stalledInterval: lockDuration, maxStalledCount: 2 },
      );
      w.on('error', (e) => process.stderr.write(`synpo: queue worker: ${e.message}\n`));
      // This command stops gracefully itself: the jobs in hand finish (and clean up) before it exits.
      handOverSignals();
      const stop = new Promise<void>((resolve) => {
        const quit = () => resolve();
        process.once('SIGTERM', quit);
        process.once('SIGINT', quit);
        if (opts.untilEmpty) {
          const q = new Queue(opts.queue, { connection: redisConnection(opts.redis) });
          const timer = setInterval(async () => {
            const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
            if (Object.values(c).every((n) => n === 0)) {
              clearInterval(timer);
              await q.close();
              resolve();
            }
          }, 500);
        }
      });
      await w.waitUntilReady();
      process.stderr.write(`synpo: queue worker on ${opts.queue} at ${opts.redis}, ${opts.concurrency} at a time\n`);
      await stop;
      // A graceful stop: the jobs in hand finish (close waits for them), nothing new is taken.
      await w.close();
      for (const c of contexts.values()) (await c).release();
      return EXIT.ok;
    }),
  );

  queueOptions(queue.command('status').description('jobs waiting, running, done and failed; the failed cases with their errors'))
    .option('--json', 'print the counts and failures as JSON')
    .action(
      run(async (opts: QueueOpts & { json?: boolean }) =>
        withQueue(opts, async (q) => {
          const counts = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
          const failed = (await q.getFailed()).map((j) => ({
            row: (j.data as JobData).case.row,
            query: (j.data as JobData).case.query,
            error: j.failedReason,
            attempts: j.attemptsMade,
          }));
          if (opts.json) process.stdout.write(`${JSON.stringify({ counts, failed }, null, 2)}\n`);
          else {
            process.stdout.write(
              `waiting ${counts.waiting! + counts.prioritized! + counts.delayed!}, running ${counts.active}, done ${counts.completed}, failed ${counts.failed}\n`,
            );
            for (const f of failed) process.stdout.write(`failed: row ${f.row} ${f.query}: ${f.error}\n`);
          }
          return EXIT.ok;
        }),
      ),
    );

  queueOptions(queue.command('wait').description('wait until no job is waiting or running; exit 1 if any job failed'))
    .option('--timeout <s>', 'give up after this many seconds (exit 1)', decimal('--timeout', { min: 0.1, max: 7 * 86400 }))
    .action(
      run(async (opts: QueueOpts & { timeout?: number }) =>
        withQueue(opts, async (q) => {
          const t0 = Date.now();
          for (;;) {
            const c = await q.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized');
            if (c.waiting! + c.active! + c.delayed! + c.prioritized! === 0) {
              process.stdout.write(`done ${c.completed}, failed ${c.failed}\n`);
              return c.failed! > 0 ? EXIT.failure : EXIT.ok;
            }
            if (opts.timeout !== undefined && Date.now() - t0 > opts.timeout * 1000) {
              process.stderr.write(
                `synpo: queue ${opts.queue} still has ${c.waiting! + c.prioritized! + c.delayed!} waiting and ${c.active} running after ${opts.timeout} s\n`,
              );
              return EXIT.failure;
            }
            await new Promise((r) => setTimeout(r, 500));
          }
        }),
      ),
    );
}
