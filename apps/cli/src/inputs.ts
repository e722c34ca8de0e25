/** Loading what the user points the CLI at: a NIfTI volume, a PNG/JPEG slice, or a DICOM folder. */
import { stat } from 'node:fs/promises';
import { ImageFileError, imageAsVolume, nonFiniteVoxel, type Volume } from '@synpo/io';
import { readDicomSeries, readImage2D, readNifti, readNrrd } from '@synpo/io/node';
import { LABEL_MAPS, type Organ } from '@synpo/core';
import { CliError, EXIT } from './errors.ts';

/**
 * Reads an input named on the command line; `what` names its role in errors. `series` picks a
 * DICOM SeriesInstanceUID in a folder of several. The reader's warnings go to stderr.
 */
export async function loadVolume(path: string, what: string, opts: { series?: string | undefined } = {}): Promise<Volume> {
  let volume: Volume;
  try {
    const info = await stat(path).catch(() => null);
    if (!info) throw new ImageFileError(path, 'no such file or folder');
    if (info.isDirectory()) volume = await readDicomSeries(path, opts.series !== undefined ? { series: opts.series } : {});
    else if (!info.isFile()) throw new ImageFileError(path, 'is not a regular file (a FIFO, device or socket); give a file or a DICOM folder');
    else if (/\.nii(\.gz)?$/i.test(path)) volume = await readNifti(path);
    else if (/\.nrrd$/i.test(path)) volume = await readNrrd(path);
    else if (/\.(png|jpe?g)$/i.test(path)) volume = imageAsVolume(await readImage2D(path));
    else throw new ImageFileError(path, 'unknown format: SynPo reads .nii, .nii.gz, .nrrd, .png, .jpg and DICOM series folders');
  } catch (error) {
    if (error instanceof ImageFileError) throw new CliError(`${what}: ${error.message}`);
    throw error;
  }
  for (const warning of volume.warnings ?? []) process.stderr.write(`synpo: ${what}: ${warning}\n`);
  const bad = nonFiniteVoxel(volume);
  if (bad) throw new CliError(`${what}: ${path}: voxel ${bad.index} (x ${bad.x}, y ${bad.y}, z ${bad.z}) is ${bad.value}; SynPo needs finite intensities`);
  return volume;
}

/** An organ name (looked up in a label map) or a label value. */
export function organValue(organ: string, labels: string): number {
  if (/^\d+$/.test(organ)) return Number.parseInt(organ, 10);
  const map = (LABEL_MAPS as Record<string, Record<Organ, number>>)[labels];
  if (!map) throw new CliError(`unknown label map '${labels}' (${Object.keys(LABEL_MAPS).join(', ')})`, EXIT.usage);
  const value = map[organ as Organ];
  if (value === undefined) throw new CliError(`unknown organ '${organ}': one of ${Object.keys(map).join(', ')}, or a label value`, EXIT.usage);
  return value;
}
