import { encode as encodePng } from 'fast-png';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeImage2D, encodeMaskPng, ImageFileError } from '../src/index.ts';
import { DATA, itWithData } from '../../../test/support/data.ts';

const AMOS = `${DATA}amos-2d/`;

describe('PNG / JPEG slices', () => {
  itWithData(['amos-2d'], 'reads the AMOS CT slice and its liver mask', () => {
    const image = decodeImage2D(readFileSync(`${AMOS}images/amos_0004_75.png`), 'amos_0004_75.png');
    expect([image.width, image.height]).toEqual([512, 512]);
    const mask = decodeImage2D(readFileSync(`${AMOS}masks/amos_0004_75_liver_000.png`), 'liver.png');
    expect(mask.data.some((v) => v > 0)).toBe(true);
    expect(mask.data.some((v) => v === 0)).toBe(true);
  });

  it('turns RGB into grey by luma and keeps 16-bit values', () => {
    const rgb = decodeImage2D(encodePng({ width: 1, height: 1, data: Uint8Array.of(255, 0, 0), channels: 3, depth: 8 }), 'rgb.png');
    expect(rgb.data[0]).toBeCloseTo(76.245);
    const deep = decodeImage2D(encodePng({ width: 2, height: 1, data: Uint16Array.of(1000, 65535), channels: 1, depth: 16 }), 'deep.png');
    expect(Array.from(deep.data)).toEqual([1000, 65535]);
  });

  it('writes a mask PNG that reads back', () => {
    const back = decodeImage2D(encodeMaskPng(Uint8Array.of(0, 1, 1, 0), 2, 2), 'm.png');
    expect(Array.from(back.data)).toEqual([0, 255, 255, 0]);
  });

  it('refuses a truncated PNG and a non-image, naming the file', () => {
    const png = encodeMaskPng(new Uint8Array(64 * 64).fill(1), 64, 64);
    expect(() => decodeImage2D(png.subarray(0, 40), 'cut.png')).toThrow(/cut\.png: corrupt or truncated PNG/);
    expect(() => decodeImage2D(new TextEncoder().encode('hello'), 'notes.png')).toThrow(ImageFileError);
  });
});
