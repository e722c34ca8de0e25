/**
 * One case of a batch (or a queue job): all its organs in one pass, the label volume written
 * atomically, then a record of what it was made from beside it (`<out>.synpo.json`: the inputs'
 * sizes and modification times, and the options). A case whose output and record match its
 * inputs and options now is skipped, so a batch resumes where it stopped and a job delivered
 * twice writes its file once. The record is written after the output: a crash between the two
 * redoes the case, with the same result.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dice, overlap, segmentCase, type Backend, type PropagationSteps, type WeightFreeOptions } from '@synpo/core';
import { ShapeError, type Kernels } from '@synpo/gpu';
import { organThreads } from '../backend.ts';
import { CliError } from '../errors.ts';
import { writeFileAtomic } from '../files.ts';
import { loadVolume } from '../inputs.ts';
import { chooseOrgans } from '../organs.ts';
import { checkFormat, encodeMask, maskFormat } from '../outputs.ts';
import type { BatchCase } from './manifest.ts';

/** What every case of a run shares: the models, the kernels, the options. */
export interface CaseContext {
  backend: Backend;
  kernels: Kernels;
  /** Options that change the output; they are part of the record. */
  options: {
    seed: number;
    band: 'chaos-t2' | 'sabs-ct';
    intensity: 'auto' | 'ct' | 'mr';
    labels: string;
    backend: string;
    cacheBytes: number;
    propagate: boolean;
    propagationAgreement: number;
    propagationAnchorStride: number;
    atlas: boolean;
  };
  /** Redo cases whose output and record match. */
  force: boolean;
  /** The propagation steps of the cases running at once, shared (runPool sets them with several jobs). */
  steps?: PropagationSteps;
  /**
   * Threads for a case's organs on the CPU path with the weight-free backend (segmentOrgansOnThreads;
   * the output is the same): its workers stay compiled from one case to the next.
   */
  threads: number;
  /** The weight-free backend's options, for the threads' own backends. */
  weightFree?: Partial<WeightFreeOptions>;
}

export interface OrganOutcome {
  name: string;
  value: number;
  voxels: number;
  /** 3-D Dice against `query_label`, when the case has one. */
  dice?: number;
}

export interface CaseResult {
  row: number;
  query: string;
  out: string;
  status: 'done' | 'skipped' | 'failed';
  seconds: number;
  organs?: OrganOutcome[];
  /** Threads that segmented the case (CaseContext.threads, at most one an organ). */
  threads?: number;
  /** Query slices encoded, and the organ-slices segmented on them (one pass for all organs). */
  encodedSlices?: number;
  organSlices?: number;
  error?: string;
  /** Failures that another try cannot fix (bad input), as opposed to a lost device. */
  permanent?: boolean;
}

interface Record {
  format: 'synpo-case/1';
  inputs: { path: string; size: number; mtimeMs: number }[];
  options: CaseContext['options'] & { organs: string };
  organs: OrganOutcome[];
}

/** Size and modification time of a file, or of a DICOM folder's files together. */
async function fingerprint(path: string): Promise<{ path: string; size: number; mtimeMs: number }> {
  const info = await stat(path);
  if (!info.isDirectory()) return { path, size: info.size, mtimeMs: info.mtimeMs };
  let size = 0;
  let mtimeMs = info.mtimeMs;
  for (const name of await readdir(path)) {
    const f = await stat(join(path, name));
    if (f.isFile()) {
      size += f.size;
      mtimeMs = Math.max(mtimeMs, f.mtimeMs);
    }
  }
  return { path, size, mtimeMs };
}

export const recordPath = (out: string) => `${out}.synpo.json`;

/** The record a case would be written with now, or null if an input is missing. */
async function currentRecord(c: BatchCase, ctx: CaseContext): Promise<Omit<Record, 'organs'> | null> {
  try {
    const inputs = await Promise.all([c.supportImage, c.supportLabel, c.query, ...(c.queryLabel ? [c.queryLabel] : [])].map(fingerprint));
    return { format: 'synpo-case/1', inputs, options: { ...ctx.options, organs: c.organs } };
  } catch {
    return null;
  }
}

/** The organs of a done case whose output and record still match, else null. */
async function upToDate(c: BatchCase, now: Omit<Record, 'organs'> | null): Promise<OrganOutcome[] | null> {
  if (!now) return null;
  try {
    await stat(c.out);
    const saved = JSON.parse(await readFile(recordPath(c.out), 'utf8')) as Record;
    const same = JSON.stringify({ inputs: saved.inputs, options: saved.options }) === JSON.stringify({ inputs: now.inputs, options: now.options });
    return same ? saved.organs : null;
  } catch {
    return null;
  }
}

/** Runs one case; never throws: a failure is a result with its message. */
export async function runCase(c: BatchCase, ctx: CaseContext): Promise<CaseResult> {
  const t0 = performance.now();
  const base = { row: c.row, query: c.query, out: c.out };
  const now = await currentRecord(c, ctx);
  if (!ctx.force) {
    const organs = await upToDate(c, now);
    if (organs) return { ...base, status: 'skipped', seconds: (performance.now() - t0) / 1000, organs };
  }
  try {
    const supportImage = await loadVolume(c.supportImage, 'support image');
    const supportLabel = await loadVolume(c.supportLabel, 'support label');
    const query = await loadVolume(c.query, 'query');
    const truth = c.queryLabel ? await loadVolume(c.queryLabel, 'query label') : null;
    if (truth && truth.dims.join() !== query.dims.join())
      throw new CliError(`query label ${c.queryLabel} is ${truth.dims.join('×')}, the query ${query.dims.join('×')}`);
    const organs = chooseOrgans({ organs: c.organs, labels: ctx.options.labels, supportValues: true }, c.supportLabel, supportLabel);
    const { threads, segment } = organThreads(
      ctx.kernels.path,
      { backend: ctx.options.backend, ...(ctx.weightFree && { weightFree: ctx.weightFree }) },
      ctx.threads,
      organs.length,
    );
    const result = await segmentCase({
      backend: ctx.backend,
      kernels: ctx.kernels,
      supportImage,
      supportLabel,
      query,
      organs,
      band: ctx.options.band,
      intensity: ctx.options.intensity,
      options: {
        seed: ctx.options.seed,
        cacheBytes: ctx.options.cacheBytes,
        propagation: { enabled: ctx.options.propagate, agreement: ctx.options.propagationAgreement, anchorStride: ctx.options.propagationAnchorStride },
      },
      atlas: ctx.options.atlas,
      ...(ctx.steps && { steps: ctx.steps }),
      ...(segment && { segment }),
    });
    const labels = result.fileLabels;
    await mkdir(dirname(c.out), { recursive: true });
    const format = maskFormat('out', c.out);
    checkFormat(format, 'out', c.out, query);
    await writeFileAtomic(c.out, encodeMask(format, labels, query, organs));
    const outcome: OrganOutcome[] = organs.map((o) => {
      const mine = Uint8Array.from(labels, (v) => (v === o.written ? 1 : 0));
      return {
        name: o.name,
        value: o.written,
        voxels: mine.reduce((a, v) => a + v, 0),
        ...(truth && {
          dice: dice(
            overlap(
              mine,
              Uint8Array.from(truth.data, (v) => (v === o.value ? 1 : 0)),
            ),
          ),
        }),
      };
    });
    if (now) await writeFileAtomic(recordPath(c.out), `${JSON.stringify({ ...now, organs: outcome }, null, 2)}\n`);
    return {
      ...base,
      status: 'done',
      seconds: (performance.now() - t0) / 1000,
      organs: outcome,
      threads,
      encodedSlices: result.encodedSlices,
      organSlices: result.organSlices,
    };
  } catch (error) {
    // Input and shape problems stay problems on another try; anything else (a lost device, a full
    // disk) may not.
    const permanent = error instanceof CliError || error instanceof ShapeError;
    return { ...base, status: 'failed', seconds: (performance.now() - t0) / 1000, error: (error as Error).message, permanent };
  }
}
