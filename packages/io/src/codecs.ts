/// <reference path="./codecs.d.ts" />
/**
 * Compressed DICOM pixel data, decoded through maintained libraries (Node, `@synpo/io/node`):
 * JPEG Lossless (processes 14 and 14 SV1) by jpeg-lossless-decoder-js, JPEG Baseline (8-bit) by
 * jpeg-js, JPEG-LS by CharLS and JPEG 2000 by OpenJPEG (both WebAssembly builds from
 * cornerstonejs), and RLE Lossless (the standard's PackBits segments) here. Deflated syntax is
 * inflated when the file is parsed (dicom.ts). What none of them reads (12-bit JPEG, HTJ2K) is
 * refused by name.
 */
import jpeg from 'jpeg-js';
import { ImageFileError } from './errors.ts';

export interface FrameInfo {
  rows: number;
  columns: number;
  bitsAllocated: number;
  /** PixelRepresentation 1. */
  signed: boolean;
}

type Samples = Uint8Array | Int8Array | Uint16Array | Int16Array;

/** Transfer syntaxes whose frames decodeFrame reads. */
export const DECODED_SYNTAXES = new Set([
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
]);

/** The decoded bytes as samples of the frame's width and sign. */
function samples(bytes: Uint8Array, info: FrameInfo, file: string): Samples {
  const count = info.rows * info.columns;
  const width = info.bitsAllocated / 8;
  if (bytes.length < count * width) throw new ImageFileError(file, `the decoded frame has ${bytes.length} bytes for ${info.columns}×${info.rows}×${width}`);
  const copy = bytes.slice(0, count * width);
  if (width === 1) return info.signed ? new Int8Array(copy.buffer) : copy;
  return info.signed ? new Int16Array(copy.buffer) : new Uint16Array(copy.buffer);
}

/** DICOM RLE Lossless: a 64-byte header of segment offsets, each segment PackBits, most significant byte first. */
function decodeRle(frame: Uint8Array, info: FrameInfo, file: string): Samples {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  const width = info.bitsAllocated / 8;
  if (segments !== width) throw new ImageFileError(file, `RLE frame has ${segments} segments, ${width} expected for ${info.bitsAllocated}-bit greyscale`);
  const count = info.rows * info.columns;
  const out = new Uint8Array(count * width);
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    // Segment s holds byte s of every sample, most significant first; samples are little-endian here.
    const at = width - 1 - s;
    let i = start;
    let n = 0;
    while (i < end && n < count) {
      const control = (frame[i++]! << 24) >> 24;
      if (control >= 0) {
        for (let k = 0; k <= control && n < count; k++) out[n++ * width + at] = frame[i++]!;
      } else if (control !== -128) {
        const value = frame[i++]!;
        for (let k = 0; k < 1 - control && n < count; k++) out[n++ * width + at] = value;
      }
    }
    if (n < count) throw new ImageFileError(file, `RLE segment ${s + 1} ends after ${n} of ${count} samples`);
  }
  return samples(out, info, file);
}

/** An Emscripten module factory's decoder instance, created once per codec. */
type Codec = { new (): WasmDecoder };
interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  delete(): void;
}
const codecs = new Map<string, Promise<Codec>>();

function wasmCodec(name: 'charls' | 'openjpeg'): Promise<Codec> {
  let codec = codecs.get(name);
  if (!codec) {
    codec = (async () => {
      const module = name === 'charls' ? await import('@cornerstonejs/codec-charls/decodewasmjs') : await import('@cornerstonejs/codec-openjpeg/decodewasmjs');
      const factory = (module.default ?? module) as () => Promise<Record<string, Codec>>;
      const runtime = await factory();
      return (name === 'charls' ? runtime.JpegLSDecoder : runtime.J2KDecoder)!;
    })();
    codecs.set(name, codec);
  }
  return codec;
}

async function decodeWasm(name: 'charls' | 'openjpeg', frame: Uint8Array, info: FrameInfo, file: string): Promise<Samples> {
  const Decoder = await wasmCodec(name);
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(frame.length).set(frame);
    decoder.decode();
    const f = decoder.getFrameInfo();
    if (f.width !== info.columns || f.height !== info.rows || f.componentCount !== 1) {
      throw new ImageFileError(file, `the compressed frame is ${f.width}×${f.height}×${f.componentCount}, the header says ${info.columns}×${info.rows}×1`);
    }
    return samples(decoder.getDecodedBuffer().slice(), info, file);
  } finally {
    decoder.delete();
  }
}

/** One frame of encapsulated pixel data as samples, or a refusal naming the syntax. */
export async function decodeFrame(syntax: string, frame: Uint8Array, info: FrameInfo, file: string, name: string): Promise<Samples> {
  try {
    switch (syntax) {
      case '1.2.840.10008.1.2.5':
        return decodeRle(frame, info, file);
      case '1.2.840.10008.1.2.4.57':
      case '1.2.840.10008.1.2.4.70': {
        const { Decoder } = await import('jpeg-lossless-decoder-js');
        const out = new Decoder().decompress(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer);
        return samples(new Uint8Array(out), info, file);
      }
      case '1.2.840.10008.1.2.4.50': {
        if (info.bitsAllocated !== 8) throw new ImageFileError(file, `JPEG Baseline with ${info.bitsAllocated}-bit samples is not a valid DICOM image`);
        const img = jpeg.decode(frame, { useTArray: true, formatAsRGBA: true });
        const grey = new Uint8Array(img.width * img.height);
        for (let i = 0; i < grey.length; i++) grey[i] = img.data[4 * i]!;
        return samples(grey, info, file);
      }
      case '1.2.840.10008.1.2.4.80':
      case '1.2.840.10008.1.2.4.81':
        return await decodeWasm('charls', frame, info, file);
      case '1.2.840.10008.1.2.4.90':
      case '1.2.840.10008.1.2.4.91':
        return await decodeWasm('openjpeg', frame, info, file);
      default:
        throw new ImageFileError(
          file,
          `compressed DICOM (transfer syntax ${syntax}, ${name}) is not supported; decompress the series first (e.g. gdcmconv --raw, or dcmdjpeg / dcmdrle)`,
        );
    }
  } catch (error) {
    if (error instanceof ImageFileError) throw error;
    throw new ImageFileError(file, `the ${name} pixel data cannot be decoded (${error instanceof Error ? error.message : String(error)})`);
  }
}
