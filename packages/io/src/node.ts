/** File-system entry points of @synpo/io (Node only; the browser passes bytes to the decoders). */
import { readFile } from 'node:fs/promises';
import { ImageFileError } from './errors.ts';
import { decodeNifti } from './nifti.ts';
import { decodeImage2D } from './png.ts';
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
