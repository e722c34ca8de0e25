/**
 * 2-D slices and masks as PNG (fast-png) or JPEG (jpeg-js). Colour images become grey by the
 * Rec. 601 luma; palette images are looked up in their palette (a palette index is not an
 * intensity); 1-, 2- and 4-bit grey is unpacked and scaled to 0…255; 16-bit PNGs keep their
 * range; chunk CRCs are checked. A mask is any non-zero pixel.
 */
import { decode as decodePngRaw, encode as encodePngRaw, hasPngSignature } from 'fast-png';
import jpeg from 'jpeg-js';
import { ImageFileError } from './errors.ts';
import type { Volume } from './volume.ts';

export interface Image2D {
  width: number;
  height: number;
  /** Grey values, row-major (0…255, or 0…65535 for 16-bit PNGs). */
  data: Float32Array;
  source: string;
}

function grey(data: ArrayLike<number>, width: number, height: number, channels: number): Float32Array {
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) {
    if (channels >= 3) out[i] = 0.299 * data[i * channels]! + 0.587 * data[i * channels + 1]! + 0.114 * data[i * channels + 2]!;
    else out[i] = data[i * channels]!;
  }
  return out;
}

const isJpeg = (b: Uint8Array) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;

/** Samples of a PNG row-packed at 1, 2 or 4 bits (each row starts on a byte), one per byte. */
function unpack(data: ArrayLike<number>, width: number, height: number, channels: number, depth: number): Uint8Array {
  const perRow = width * channels;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const out = new Uint8Array(perRow * height);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < perRow; i++) {
      const bit = i * depth;
      const byte = data[y * rowBytes + (bit >> 3)]!;
      out[y * perRow + i] = (byte >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/** Decodes a PNG or JPEG file's bytes to a grey image. */
export function decodeImage2D(bytes: Uint8Array, file: string): Image2D {
  if (bytes.length === 0) throw new ImageFileError(file, 'is empty (0 bytes)');
  if (hasPngSignature(bytes)) {
    let png: ReturnType<typeof decodePngRaw>;
    try {
      png = decodePngRaw(bytes, { checkCrc: true });
    } catch (error) {
      throw new ImageFileError(file, `corrupt or truncated PNG (${(error as Error).message})`);
    }
    const { width, height, depth } = png;
    let samples: ArrayLike<number> = png.data;
    let channels: number = png.channels;
    if (depth < 8) samples = unpack(png.data, width, height, channels, depth);
    if (png.palette) {
      const palette = png.palette;
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0; i < width * height; i++) {
        const entry = palette[samples[i]!];
        if (!entry) throw new ImageFileError(file, `palette index ${samples[i]} at pixel ${i} is outside the ${palette.length}-colour palette`);
        rgb.set(entry.slice(0, 3), i * 3);
      }
      samples = rgb;
      channels = 3;
    } else if (depth < 8) {
      const scale = 255 / ((1 << depth) - 1);
      samples = Float32Array.from(samples, (v) => v * scale);
    }
    return { width, height, data: grey(samples, width, height, channels), source: file };
  }
  if (isJpeg(bytes)) {
    try {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      return { width: img.width, height: img.height, data: grey(img.data, img.width, img.height, 4), source: file };
    } catch (error) {
      throw new ImageFileError(file, `corrupt or truncated JPEG (${(error as Error).message})`);
    }
  }
  throw new ImageFileError(file, 'not a PNG or JPEG image');
}

/**
 * A 2-D image as a one-slice volume (unit spacing), so one pipeline serves both. A picture has
 * no patient geometry: it is taken as displayed, which is the canonical axial view (columns
 * toward the patient's left, rows toward posterior), so it is processed exactly as it looks.
 */
export function imageAsVolume(image: Image2D): Volume {
  return {
    data: image.data,
    dims: [image.width, image.height, 1],
    spacing: [1, 1, 1],
    affine: [
      [-1, 0, 0, 0],
      [0, -1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    source: image.source,
  };
}

/** An 8-bit grey (1 channel) or RGB (3) / RGBA (4) PNG. */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Uint8Array {
  if (data.length !== width * height * channels)
    throw new RangeError(`PNG data has ${data.length} bytes, ${width}×${height}×${channels} needs ${width * height * channels}`);
  return encodePngRaw({ width, height, data, channels, depth: 8 });
}

/** A binary mask as a grey PNG: 255 inside, 0 outside. */
export function encodeMaskPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng(
    Uint8Array.from(mask, (v) => (v ? 255 : 0)),
    width,
    height,
    1,
  );
}
