/** File-system entry points of @synpo/io (Node only; the browser passes bytes to the decoders). */
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Dirent, Stats } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ImageFileError } from './errors.ts';
import { gunzipChecked } from './gzip.ts';
import { decodeNifti } from './nifti.ts';
import { decodeNrrd } from './nrrd.ts';
import { decodeImage2D } from './png.ts';
import { decodeFrame } from './codecs.ts';
import { intensities, parseDicomSlice, pickSeries, stackDicomSlices } from './dicom.ts';
import type { Volume } from './volume.ts';

/** What a non-regular file is, for messages. */
function kindOf(info: Stats): string {
  return info.isDirectory()
    ? 'a folder'
    : info.isFIFO()
      ? 'a FIFO (named pipe)'
      : info.isCharacterDevice()
        ? 'a character device'
        : info.isBlockDevice()
          ? 'a block device'
          : info.isSocket()
            ? 'a socket'
            : 'not a regular file';
}

/**
 * A file's bytes. Only regular files are read (a FIFO or a device would block or never end), and
 * an empty file is refused by name.
 */
export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new ImageFileError(path, `is ${kindOf(info)}, not a regular file`);
    if (info.size === 0) throw new ImageFileError(path, 'is empty (0 bytes)');
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof ImageFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new ImageFileError(path, why);
  }
}

/**
 * A gzip file's bytes inflated by Node's zlib (native, several times faster than the portable
 * inflater on a CT volume; it checks the CRC-32 and the length itself). A stream zlib refuses goes
 * to gunzipChecked, whose error says what is wrong with it. Other bytes are returned as they are.
 */
function gunzipNative(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch {
    return gunzipChecked(bytes, file);
  }
}

/** Reads a .nii / .nii.gz volume. */
export async function readNifti(path: string): Promise<Volume> {
  return decodeNifti(gunzipNative(await readBytes(path), path), path);
}

/** Reads a .nrrd volume. */
export async function readNrrd(path: string): Promise<Volume> {
  return decodeNrrd(await readBytes(path), path);
}

/** Reads a PNG or JPEG slice. */
export async function readImage2D(path: string): Promise<import('./png.ts').Image2D> {
  return decodeImage2D(await readBytes(path), path);
}

/**
 * Reads the DICOM files of a folder as one series: `series` picks a SeriesInstanceUID when the
 * folder holds several. Entries that are not regular files (subfolders, FIFOs, devices), empty
 * files and files without the DICM preamble are skipped.
 */
export async function readDicomSeries(folder: string, opts: { series?: string } = {}): Promise<Volume> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImageFileError(
      folder,
      code === 'ENOENT' ? 'no such folder' : code === 'ENOTDIR' ? 'is not a folder' : code === 'EACCES' ? 'permission denied' : (error as Error).message,
    );
  }
  const names = entries
    .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isSymbolicLink()))
    .map((e) => e.name)
    .sort();
  const slices = [];
  for (const name of names) {
    const path = join(folder, name);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile() || info.size < 132) continue;
    const bytes = await readBytes(path);
    // DICOM part 10 files carry "DICM" at byte 128; anything else in the folder is skipped.
    if (String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') continue;
    const { slice, stored } = parseDicomSlice(bytes, path);
    const decoded = stored.encapsulated ? await decodeFrame(stored.syntax, stored.bytes, stored, path, stored.syntaxName) : undefined;
    slices.push({ ...slice, pixels: intensities(stored, decoded) });
  }
  return stackDicomSlices(pickSeries(slices, folder, opts.series), folder);
}
