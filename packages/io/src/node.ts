/** File-system entry points of @synpo/io (Node only; the browser passes bytes to the decoders). */
import { readFile } from 'node:fs/promises';
import { ImageFileError } from './errors.ts';
import { decodeNifti } from './nifti.ts';
import { decodeImage2D } from './png.ts';
import { decodeDicomSlice, stackDicomSlices } from './dicom.ts';
import type { Volume } from './volume.ts';

export async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new ImageFileError(path, why);
  }
}

/** Reads a .nii / .nii.gz volume. */
export async function readNifti(path: string): Promise<Volume> {
  return decodeNifti(await readBytes(path), path);
}

/** Reads a PNG or JPEG slice. */
export async function readImage2D(path: string): Promise<import('./png.ts').Image2D> {
  return decodeImage2D(await readBytes(path), path);
}

/** Reads every DICOM file of a folder (files that are not DICOM are skipped) as one series. */
export async function readDicomSeries(folder: string): Promise<Volume> {
  const { readdir } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const names = (await readdir(folder)).filter((n) => !n.startsWith('.')).sort();
  const slices = [];
  for (const name of names) {
    const bytes = await readBytes(join(folder, name));
    // DICOM part 10 files carry "DICM" at byte 128; anything else in the folder is skipped.
    if (bytes.length < 132 || String.fromCharCode(...bytes.subarray(128, 132)) !== 'DICM') continue;
    slices.push(decodeDicomSlice(bytes, join(folder, name)));
  }
  return stackDicomSlices(slices, folder);
}
