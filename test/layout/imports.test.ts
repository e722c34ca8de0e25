/**
 * The layout holds: no module imports itself through others (a cycle makes the load order
 * decide what a module sees, and a newcomer cannot read the code from the bottom up).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = ['packages/gpu/src', 'packages/io/src', 'packages/core/src', 'packages/onnx-fixtures/src', 'apps/cli/src', 'apps/web/src'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Relative imports that run code (`import type` and `export type` load nothing). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^(import|export)(?!\s+type\b)[^;]*?\sfrom\s+'(\.[^']+)'/gms)].map((m) => resolve(dirname(file), m[2]!));
}

/** Every cycle found by a depth-first walk, as the files along it. */
function cycles(files: string[]): string[][] {
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((d) => known.has(d))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const d of graph.get(f)!) {
      if (state.get(d) === 'open') found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return found;
}

describe('imports', () => {
  for (const dir of SOURCES) {
    it(`${dir} has no import cycle`, () => {
      const found = cycles(tsFiles(join(ROOT, dir))).map((c) => c.map((f) => relative(ROOT, f)).join(' → '));
      expect(found).toEqual([]);
    });
  }

  it('finds a cycle when there is one', () => {
    const dir = join(ROOT, 'test/layout/cycle');
    expect(cycles(tsFiles(dir)).map((c) => c.map((f) => relative(dir, f)))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });
});
