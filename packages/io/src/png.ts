/**
 * 2-D slices and masks as PNG (fast-png) or JPEG (jpeg-js). Colour images become grey by the
 * Rec. 601 luma; 16-bit PNGs keep their range; a mask is any non-zero pixel.
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

/** Decodes a PNG or JPEG file's bytes to a grey image. */
export function decodeImage2D(bytes: Uint8Array, file: string): Image2D {
  if (hasPngSignature(bytes)) {
    try {
      const png = decodePngRaw(bytes);
      const channels = png.palette ? 1 : png.channels;
      return { width: png.width, height: png.height, data: grey(png.data, png.width, png.height, channels), source: file };
    } catch (error) {
      throw new ImageFileError(file, `corrupt or truncated PNG (${(error as Error).message})`);
    }
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

/** A 2-D image as a one-slice volume (unit spacing, identity affine), so one pipeline serves both. */
export function imageAsVolume(image: Image2D): Volume {
  return {
    data: image.data,
    dims: [image.width, image.height, 1],
    spacing: [1, 1, 1],
    affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    source: image.source,
  };
}

/** An 8-bit grey (1 channel) or RGB (3) / RGBA (4) PNG. */
export function encodePng(data: Uint8Array, width: number, height: number, channels: 1 | 3 | 4): Uint8Array {
  if (data.length !== width * height * channels) throw new RangeError(`PNG data has ${data.length} bytes, ${width}×${height}×${channels} needs ${width * height * channels}`);
  return encodePngRaw({ width, height, data, channels, depth: 8 });
}

/** A binary mask as a grey PNG: 255 inside, 0 outside. */
export function encodeMaskPng(mask: Uint8Array, width: number, height: number): Uint8Array {
  return encodePng(Uint8Array.from(mask, (v) => (v ? 255 : 0)), width, height, 1);
}
