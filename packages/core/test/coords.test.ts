import { describe, expect, it } from 'vitest';
import { roiMaskToSamPrompt, roiToSam, roiToSlice, samMaskToRoi, samToRoi, samToSlice, sliceToRoi, sliceToSam } from '../src/onnx/coords.ts';

describe('prompt coordinates', () => {
  const region = [32, 32, 448, 448] as const; // a 512² CT slice after ALPNet's crop
  it('ROI → SAM 1024 is a scale by 4, and back', () => {
    expect(roiToSam({ x: 10, y: 250 })).toEqual({ x: 40, y: 1000 });
    expect(samToRoi({ x: 40, y: 1000 })).toEqual({ x: 10, y: 250 });
  });
  it('slice → ROI → SAM and back round-trip, both ways', () => {
    for (const p of [
      { x: 32, y: 32 },
      { x: 100.5, y: 400.25 },
      { x: 479.9, y: 33 },
    ]) {
      const s = sliceToSam(p, region);
      const back = samToSlice(s, region);
      expect(back.x).toBeCloseTo(p.x, 9);
      expect(back.y).toBeCloseTo(p.y, 9);
    }
    expect(roiToSlice({ x: 128, y: 0 }, region)).toEqual({ x: 256, y: 32 });
    expect(sliceToRoi({ x: 480, y: 480 }, region)).toEqual({ x: 256, y: 256 });
  });
  it('SAM low-resolution logits land on the ROI grid, and a ROI mask becomes a prompt', () => {
    const logits = new Float32Array(256 * 256).fill(-1);
    for (let y = 10; y < 20; y++) for (let x = 30; x < 50; x++) logits[y * 256 + x] = 3;
    const mask = samMaskToRoi(logits, 256);
    expect(mask.reduce((a, v) => a + v, 0)).toBe(200);
    const prompt = roiMaskToSamPrompt(mask, 256);
    expect(prompt[15 * 256 + 40]).toBe(20);
    expect(prompt[0]).toBe(-20);
  });
});
