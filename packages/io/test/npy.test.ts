import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNpy, encodeNpy } from '../src/index.ts';

describe('npy', () => {
  it('round-trips float32, uint8 and int32 arrays with their shapes', () => {
    for (const [data, shape] of [
      [Float32Array.of(1.5, -2, 3, 4, 5, 6), [2, 3]],
      [Uint8Array.of(0, 1, 1), [3]],
      [Int32Array.of(-7, 8), [1, 2]],
    ] as const) {
      const back = decodeNpy(encodeNpy(data, shape));
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data)).toEqual(Array.from(data));
      expect(back.data.constructor).toBe(data.constructor);
    }
  });

  it('keeps the header 64-byte aligned, as numpy requires', () => {
    for (const n of [1, 10, 1000]) expect((encodeNpy(new Float32Array(n), [n]).length - 4 * n) % 64).toBe(0);
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(/holds 6 values, the array has 5/);
  });

  it('numpy reads what we write (when numpy is installed)', (ctx) => {
    let python = '';
    for (const candidate of ['python3', '/usr/bin/python3']) {
      try {
        execFileSync(candidate, ['-c', 'import numpy'], { stdio: 'ignore' });
        python = candidate;
        break;
      } catch {
        /* try the next */
      }
    }
    if (!python) return ctx.skip('no python3 with numpy on this machine');
    const file = join(mkdtempSync(join(tmpdir(), 'npy-')), 'a.npy');
    writeFileSync(file, encodeNpy(Float32Array.of(1, 2, 3, 4, 5, 6), [3, 2]));
    const out = execFileSync(python, ['-c', `import numpy as n; a = n.load('${file}'); print(a.dtype, a.shape, a[2, 1])`])
      .toString()
      .trim();
    expect(out).toBe('float32 (3, 2) 6.0');
  });
});
