/**
 * What the CLI writes, and the promise that it destroys nothing:
 *  - outputs are checked before any work: none may be an input (or lie inside an input folder's
 *    replacement), none may collide with another, each must be writable;
 *  - `--dump` folders are replaced only when synpo made them (a marker file) and `--force` says so;
 *  - output files appear whole or not at all (a temporary file beside the target, then rename),
 *    and temporary files and folders are removed on every error path and on SIGINT / SIGTERM.
 */
import { existsSync, rmSync } from 'node:fs';
import { access, constants, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { CliError, EXIT } from './errors.ts';

/** Temporary paths to remove if the process is interrupted. */
const pending = new Set<string>();
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const path of pending) rmSync(path, { recursive: true, force: true });
  const removed = pending.size;
  pending.clear();
  process.stderr.write(
    `synpo: ${signal === 'SIGINT' ? 'interrupted' : 'terminated'}${removed ? `; removed ${removed} partial output${removed > 1 ? 's' : ''}` : ''}\n`,
  );
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Removes partial outputs on SIGINT / SIGTERM and exits 130 / 143 (installed by `main`). */
export function cleanUpOnSignals(): void {
  if (installed) return;
  installed = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** For commands that stop gracefully on a signal themselves (the queue worker): they clean up as they finish. */
export function handOverSignals(): void {
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  installed = false;
}

/** Registers a temporary path for removal on interruption; the returned function forgets it. */
export function temporary(path: string): () => void {
  pending.add(path);
  return () => void pending.delete(path);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const forget = temporary(tmp);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw new CliError(`cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  } finally {
    forget();
  }
}

/** A path the command reads or writes, and the option that named it. */
export interface NamedPath {
  flag: string;
  path: string;
}

export interface OutputPath extends NamedPath {
  /** A folder (`--dump`) is replaced as a whole; a file is replaced by rename. */
  kind: 'file' | 'folder';
}

/** The path with symbolic links resolved, for a path that may not exist yet (its folder is resolved). */
async function identity(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    try {
      return join(await realpath(dirname(absolute)), basename(absolute));
    } catch {
      return absolute;
    }
  }
}

const inside = (child: string, parent: string) => {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && rel !== '..');
};

/** Same file (hard links included) when both exist. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([stat(a).catch(() => null), stat(b).catch(() => null)]);
  return Boolean(sa && sb && sa.dev === sb.dev && sa.ino === sb.ino);
}

/** The marker a `--dump` folder carries, so that only synpo's own dumps are ever replaced. */
export const DUMP_MARKER = '.synpo-dump';

/**
 * Refuses, before any work, outputs that would destroy an input or another output, and checks
 * that every output can be written. Usage errors exit 2; an output folder that is missing or
 * read-only exits 1 (as writing it would).
 */
export async function guardOutputs(inputs: readonly NamedPath[], outputs: readonly OutputPath[], opts: { force?: boolean } = {}): Promise<void> {
  const ins = await Promise.all(inputs.map(async (i) => ({ ...i, id: await identity(i.path) })));
  const outs = await Promise.all(outputs.map(async (o) => ({ ...o, id: await identity(o.path) })));
  for (const [k, o] of outs.entries()) {
    for (const i of ins) {
      const destroys = o.id === i.id || (await sameFile(o.path, i.path)) || (o.kind === 'folder' && inside(i.id, o.id));
      if (destroys) {
        throw new CliError(
          `${o.flag} ${o.path} would overwrite the input ${i.flag} ${i.path}; write the ${o.kind === 'folder' ? 'dump' : 'output'} somewhere else`,
          EXIT.usage,
        );
      }
    }
    for (const other of outs.slice(k + 1)) {
      const clash = o.id === other.id || (o.kind === 'folder' && inside(other.id, o.id)) || (other.kind === 'folder' && inside(o.id, other.id));
      if (clash)
        throw new CliError(
          `${o.flag} ${o.path} and ${other.flag} ${other.path} are the same place (one would destroy the other); give them different paths`,
          EXIT.usage,
        );
    }
    await checkWritable(o, opts);
  }
}

async function checkWritable(o: OutputPath, opts: { force?: boolean }): Promise<void> {
  const folder = dirname(resolve(o.path));
  try {
    await access(folder, constants.W_OK);
  } catch {
    throw new CliError(`cannot write ${o.path}: its folder ${folder} does not exist or is not writable`);
  }
  const info = await stat(o.path).catch(() => null);
  if (!info) return;
  if (o.kind === 'file') {
    if (info.isDirectory()) throw new CliError(`${o.flag} ${o.path} is a folder; give a file name`, EXIT.usage);
    if (!info.isFile()) throw new CliError(`${o.flag} ${o.path} exists and is not a regular file; give another name`, EXIT.usage);
    return;
  }
  if (!info.isDirectory())
    throw new CliError(`${o.flag} ${o.path} exists and is a file; synpo replaces only folders it made: choose a new folder name`, EXIT.usage);
  const entries = await readdir(o.path);
  if (entries.length === 0) return;
  if (!existsSync(join(o.path, DUMP_MARKER))) {
    throw new CliError(
      `${o.flag} ${o.path} exists and holds files synpo did not write (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); it is never replaced: choose a new folder name`,
      EXIT.usage,
    );
  }
  if (!opts.force) throw new CliError(`${o.flag} ${o.path} holds a previous dump; pass --force to replace it, or choose a new folder name`, EXIT.usage);
}

/**
 * Output files whose folders may not exist yet (a batch creates them): each one's nearest
 * existing ancestor must be a writable folder. Checked before the first case runs.
 */
export async function checkCreatable(outputs: readonly NamedPath[]): Promise<void> {
  const problems: string[] = [];
  for (const o of outputs) {
    let folder = dirname(resolve(o.path));
    while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
    const info = await stat(folder).catch(() => null);
    const writable =
      info?.isDirectory() &&
      (await access(folder, constants.W_OK).then(
        () => true,
        () => false,
      ));
    if (!writable) problems.push(`${o.flag}: cannot write ${o.path}: ${folder} is ${info?.isDirectory() ? 'not writable' : 'not a folder'}`);
  }
  if (problems.length) throw new CliError(problems.join('\n'));
}
