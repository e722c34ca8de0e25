/**
 * gzip decompression that refuses damaged data: fflate inflates the stream, and the trailer's
 * CRC-32 and length are checked against what came out (fflate does not check them), so a file
 * with flipped bits is an error, not a volume with wrong voxels.
 */
import { gunzipSync } from 'fflate';
import { ImageFileError } from './errors.ts';

let table: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as gzip and PNG use it). */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Inflates a (single-member) gzip file, checking its CRC-32 and length; `file` names it in errors. */
export function gunzipChecked(bytes: Uint8Array, file: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes);
  } catch (error) {
    throw new ImageFileError(file, `the gzip stream is corrupt or truncated (${(error as Error).message})`);
  }
  if (bytes.length < 18) throw new ImageFileError(file, 'the gzip stream is truncated (no trailer)');
  const trailer = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 8, 8);
  const crc = trailer.getUint32(0, true);
  const size = trailer.getUint32(4, true);
  if (size !== out.length % 2 ** 32) {
    throw new ImageFileError(file, `the gzip stream is corrupt or truncated: its trailer says ${size} bytes, it inflates to ${out.length}`);
  }
  const actual = crc32(out);
  if (actual !== crc) {
    throw new ImageFileError(
      file,
      `the gzip stream is corrupt: CRC-32 ${actual.toString(16).padStart(8, '0')} of the data does not match ${crc.toString(16).padStart(8, '0')} in the trailer`,
    );
  }
  return out;
}
