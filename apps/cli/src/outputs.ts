/** The mask formats `--out` writes, chosen by the file name, and their encoders. */
import { encodeMaskPng, encodeNiftiMask, encodeNrrdMask, isDicomSeriesInfo, type Volume } from '@synpo/io';
import { encodeDicomSeg } from '@synpo/io/seg';
import { CliError, EXIT } from './errors.ts';

export type MaskFormat = 'nii.gz' | 'nii' | 'nrrd' | 'dcm' | 'png';

const FORMATS: [RegExp, MaskFormat][] = [
  [/\.nii\.gz$/i, 'nii.gz'],
  [/\.nii$/i, 'nii'],
  [/\.nrrd$/i, 'nrrd'],
  [/\.dcm$/i, 'dcm'],
  [/\.png$/i, 'png'],
];

export const FORMAT_HELP =
  ".nii.gz / .nii (NIfTI with the query's header), .nrrd (NRRD with its space directions), .dcm (a DICOM SEG of a DICOM query, one segment per organ), or .png (one organ of a 2-D query)";

/** The format a file name asks for (a usage error when it names none). */
export function maskFormat(flag: string, path: string): MaskFormat {
  const found = FORMATS.find(([re]) => re.test(path));
  if (!found) throw new CliError(`${flag} ${path}: use a .nii.gz, .nii, .nrrd, .dcm (DICOM SEG) or .png file name`, EXIT.usage);
  return found[1];
}

/** Refuses, before any work, a format the query cannot be written in. */
export function checkFormat(format: MaskFormat, flag: string, path: string, query: Volume): void {
  if (format === 'dcm' && !isDicomSeriesInfo(query.header)) {
    throw new CliError(
      `${flag} ${path}: a DICOM SEG references the DICOM series it segments, and the query ${query.source} is not a DICOM series; write .nii.gz or .nrrd`,
      EXIT.usage,
    );
  }
  if (format === 'png' && query.dims[2] !== 1)
    throw new CliError(`${flag} .png needs a 2-D query (a slice, or --slice z); write volumes as .nii.gz`, EXIT.usage);
}

/** A label volume (on the query's own grid) in the chosen format; `organs` name the values. */
export function encodeMask(
  format: MaskFormat,
  labels: Uint8Array | Uint16Array,
  query: Volume,
  organs: readonly { name: string; written: number }[],
): Uint8Array {
  switch (format) {
    case 'png':
      return encodeMaskPng(
        Uint8Array.from(labels, (v) => (v ? 1 : 0)),
        query.dims[0],
        query.dims[1],
      );
    case 'nrrd':
      return encodeNrrdMask(labels, query);
    case 'dcm':
      return encodeDicomSeg(
        labels,
        query,
        organs.map((o, i) => ({ number: i + 1, label: o.name, value: o.written })),
      );
    default:
      return encodeNiftiMask(labels, query, format === 'nii.gz');
  }
}
