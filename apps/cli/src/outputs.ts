/** The mask formats `--out` writes, chosen by the file name, and their encoders. */
import { encodeMaskPng, encodeNiftiMask, type Volume } from '@synpo/io';
import { CliError, EXIT } from './errors.ts';

export type MaskFormat = 'nii.gz' | 'nii' | 'png';

const FORMATS: [RegExp, MaskFormat][] = [
  [/\.nii\.gz$/i, 'nii.gz'],
  [/\.nii$/i, 'nii'],
  [/\.png$/i, 'png'],
];

export const FORMAT_HELP = '.nii.gz / .nii (NIfTI with the query\'s header), or .png (one organ of a 2-D query)';

/** The format a file name asks for (a usage error when it names none). */
export function maskFormat(flag: string, path: string): MaskFormat {
  const found = FORMATS.find(([re]) => re.test(path));
  if (!found) throw new CliError(`${flag} ${path}: use a .nii.gz, .nii or .png file name`, EXIT.usage);
  return found[1];
}

/** A label volume (on the query's own grid) in the chosen format. */
export function encodeMask(format: MaskFormat, labels: Uint8Array | Uint16Array, query: Volume): Uint8Array {
  if (format === 'png') return encodeMaskPng(Uint8Array.from(labels, (v) => (v ? 1 : 0)), query.dims[0], query.dims[1]);
  return encodeNiftiMask(labels, query, format === 'nii.gz');
}
