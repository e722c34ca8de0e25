/**
 * Where the tests find the real data sets, and what they do without them.
 *
 * `SYNPO_DATA` names the folder that holds `chaos-t2/`, `sabs-ct/`, `totalseg/` and `amos-2d/`
 * (default: `shared/data` beside the repository, the same default as the CLI's). Outside CI a
 * test whose set is absent is skipped under its own name, and the file says once, in one line,
 * which set is missing and how to point the tests at it. Under CI (`CI` set, or
 * `SYNPO_REQUIRE_DATA=1`) the sets are required: a missing one fails the test that needs it.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestFunction } from 'vitest';

export type DataSet = 'chaos-t2' | 'sabs-ct' | 'totalseg' | 'amos-2d';

/** The data root, with a trailing slash: `${DATA}chaos-t2/image_1.nii.gz`. */
export const DATA = `${process.env.SYNPO_DATA ? resolve(process.env.SYNPO_DATA) : fileURLToPath(new URL('../../../shared/data', import.meta.url))}/`;
export const requireData = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_DATA === '1';

const told = new Set<DataSet>();

function missing(sets: readonly DataSet[]): DataSet[] {
  return sets.filter((s) => !existsSync(`${DATA}${s}`));
}

function how(sets: readonly DataSet[]): string {
  return `${sets.join(', ')} not under ${DATA}: set SYNPO_DATA to the folder that holds ${sets.map((s) => `${s}/`).join(' and ')} (README, "Tests")`;
}

/** Outside CI: whether to skip, saying so once per set. Under CI a missing set is a failure, not a skip. */
function skip(sets: readonly DataSet[]): boolean {
  const absent = missing(sets);
  if (absent.length === 0 || requireData) return false;
  const fresh = absent.filter((s) => !told.has(s));
  if (fresh.length > 0) {
    fresh.forEach((s) => told.add(s));
    console.warn(`skipping the tests that need ${how(fresh)}`);
  }
  return true;
}

function guarded<T extends (...args: never[]) => unknown>(sets: readonly DataSet[], fn: T): T {
  return ((...args: never[]) => {
    const absent = missing(sets);
    if (absent.length > 0) throw new Error(`this test needs ${how(absent)}; CI requires the data`);
    return fn(...args);
  }) as T;
}

/** A test that reads these data sets. */
export function itWithData(sets: readonly DataSet[], name: string, fn: TestFunction, timeout?: number): void {
  it.skipIf(skip(sets))(name, guarded(sets, fn), timeout);
}

/** `itWithData`, skipped also when `condition` holds (a browser or a device that is not here). */
itWithData.skipIf =
  (condition: boolean) =>
  (sets: readonly DataSet[], name: string, fn: TestFunction, timeout?: number): void => {
    if (condition) it.skip(name, fn, timeout);
    else itWithData(sets, name, fn, timeout);
  };

/** The data sets that these command-line arguments name (paths under DATA). */
export function dataIn(args: readonly string[]): DataSet[] {
  const sets: DataSet[] = ['chaos-t2', 'sabs-ct', 'totalseg', 'amos-2d'];
  return sets.filter((s) => args.some((a) => a.startsWith(`${DATA}${s}/`)));
}

/** A group of tests that all read these data sets. */
export function describeWithData(sets: readonly DataSet[], name: string, fn: () => void): void {
  if (requireData && missing(sets).length > 0) {
    describe(name, () =>
      it(
        'has its data',
        guarded(sets, () => undefined),
      ),
    );
    return;
  }
  describe.skipIf(skip(sets))(name, fn);
}
