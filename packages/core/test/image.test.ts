import { describe, expect, it } from 'vitest';
import { contentHash, resizeSquare, toModelInput } from '../src/onnx/index.ts';

describe('encoder input', () => {
  const ramp = Float32Array.from({ length: 256 * 256 }, (_, i) => (i % 256) / 255);
  it('bicubic and bilinear keep a constant image constant and a ramp a ramp', () => {
    for (const mode of ['bicubic', 'bilinear'] as const) {
      const flat = resizeSquare(new Float32Array(256 * 256).fill(0.4), 896, mode);
      expect(flat.every((v) => Math.abs(v - 0.4) < 1e-5)).toBe(true);
      const up = resizeSquare(ramp, 1024, mode);
      // Away from the clamped edges a linear ramp is reproduced: x_src = (x + 0.5)/4 − 0.5.
      for (const x of [100, 512, 900]) expect(up[300 * 1024 + x]).toBeCloseTo(((x + 0.5) / 4 - 0.5) / 255, 4);
    }
  });
  it('normalises each of the three grey channels with its own mean and std', () => {
    const t = toModelInput(new Float32Array(256 * 256).fill(0.5), 1, 256, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 'bilinear');
    expect(t.length).toBe(3 * 256 * 256);
    expect(t[0]).toBeCloseTo((0.5 - 0.485) / 0.229, 6);
    expect(t[2 * 65536]).toBeCloseTo((0.5 - 0.406) / 0.225, 6);
  });
  it('the content hash separates slices that differ in one value', () => {
    const a = new Float32Array(100);
    const b = new Float32Array(100);
    b[57] = 1e-7;
    expect(contentHash(a)).not.toBe(contentHash(b));
    expect(contentHash(a)).toBe(contentHash(new Float32Array(100)));
  });
});
