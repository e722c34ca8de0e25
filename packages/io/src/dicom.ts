/**
 * DICOM series (folders of single-frame slices) as volumes, through dicom-parser. A folder may
 * hold several series: they are told apart by SeriesInstanceUID and one is picked by UID (the
 * choice is listed when none is named). Within a series, slices are ordered by their position
 * along the slice normal (ImagePositionPatient projected on the cross product of the
 * ImageOrientationPatient cosines), falling back to InstanceNumber with a warning; intensities
 * get RescaleSlope / RescaleIntercept and MONOCHROME1 is inverted; the affine is converted from
 * DICOM's LPS to NIfTI's RAS.
 *
 * Rules, each an error naming the files: slices of different sizes or orientations; two slices
 * at one position; missing slices or irregular spacing (a volume needs one slice spacing).
 * Native and deflated pixel data are read here; compressed frames are decoded in Node by
 * codecs.ts (readDicomSeries), and what no codec reads is refused with the syntax's name.
 */
import dicomParser from 'dicom-parser';
import { inflateSync } from 'fflate';
import { ImageFileError } from './errors.ts';
import type { Volume } from './volume.ts';

/** Native pixel data (deflated files are inflated whole before their pixel data is read). */
const NATIVE: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
};
const UNCOMPRESSED = new Set(Object.keys(NATIVE));

/** Compressed transfer syntaxes by name, for messages. */
const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (Process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (Process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless (Process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless (Process 14, SV1)',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'High-Throughput JPEG 2000 (Lossless Only)',
  '1.2.840.10008.1.2.4.202': 'High-Throughput JPEG 2000 with RPCL (Lossless Only)',
  '1.2.840.10008.1.2.4.203': 'High-Throughput JPEG 2000',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** The source series of a volume read from DICOM: what a DICOM SEG of it must reference. */
export interface DicomSeriesInfo {
  kind: 'dicom-series';
  studyInstanceUid: string;
  seriesInstanceUid: string;
  frameOfReferenceUid: string;
  /** Patient and study attributes copied into derived objects (empty when absent). */
  patient: { name: string; id: string; birthDate: string; sex: string };
  study: { date: string; time: string; id: string; accessionNumber: string; referringPhysicianName: string };
  /** One per volume slice z: the instance it came from and its position (LPS, mm). */
  instances: { sopClassUid: string; sopInstanceUid: string; position: [number, number, number] }[];
  /** ImageOrientationPatient (row then column cosines, LPS). */
  orientation: number[];
  /** PixelSpacing as DICOM writes it: between rows, between columns (mm). */
  pixelSpacing: [number, number];
}

export interface DicomSlice {
  file: string;
  seriesInstanceUid: string;
  seriesNumber: number | null;
  seriesDescription: string;
  studyInstanceUid: string;
  frameOfReferenceUid: string;
  sopClassUid: string;
  sopInstanceUid: string;
  patient: DicomSeriesInfo['patient'];
  study: DicomSeriesInfo['study'];
  monochrome1: boolean;
  rows: number;
  columns: number;
  pixels: Float32Array;
  position: [number, number, number] | null;
  orientation: number[] | null;
  spacing: [number, number];
  thickness: number;
  instance: number;
}

function numbers(ds: dicomParser.DataSet, tag: string, count: number): number[] | null {
  const values = Array.from({ length: count }, (_, i) => ds.floatString(tag, i));
  return values.every((v) => v !== undefined && Number.isFinite(v)) ? (values as number[]) : null;
}

/** The pixel data of one slice, still as stored: what turning it into intensities needs. */
export interface StoredPixels {
  syntax: string;
  /** The syntax's name, for messages. */
  syntaxName: string;
  /** Native samples (little- or big-endian) or, when `encapsulated`, the slice's one compressed frame. */
  bytes: Uint8Array;
  encapsulated: boolean;
  rows: number;
  columns: number;
  bitsAllocated: number;
  signed: boolean;
  littleEndian: boolean;
  slope: number;
  intercept: number;
}

/**
 * Parses one DICOM slice: its header (everything but the intensities) and its pixel data as
 * stored. Deflated files are inflated here (fflate); encapsulated (compressed) pixel data is
 * handed on as its frame, for a codec (@synpo/io/node decodes them; see codecs.ts).
 */
export function parseDicomSlice(bytes: Uint8Array, file: string): { slice: Omit<DicomSlice, 'pixels'>; stored: StoredPixels } {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, {
      inflater: (array: Uint8Array, position: number) => {
        const inflated = inflateSync(array.subarray(position));
        const full = new Uint8Array(position + inflated.length);
        full.set(array.subarray(0, position));
        full.set(inflated, position);
        return full;
      },
    } as dicomParser.ParseDicomOptions);
  } catch (error) {
    throw new ImageFileError(file, `not a readable DICOM file (${error instanceof Error ? error.message : String(error)})`);
  }
  const syntax = ds.string('x00020010')?.replace(/\0/g, '').trim() ?? '1.2.840.10008.1.2';
  const syntaxName = NATIVE[syntax] ?? COMPRESSED[syntax] ?? 'an unknown transfer syntax';
  const rows = ds.uint16('x00280010');
  const columns = ds.uint16('x00280011');
  const bits = ds.uint16('x00280100');
  const signed = ds.uint16('x00280103') === 1;
  const samples = ds.uint16('x00280002') ?? 1;
  const pixel = ds.elements['x7fe00010'];
  if (!rows || !columns || !bits || !pixel) throw new ImageFileError(file, 'has no image (Rows, Columns, BitsAllocated or PixelData missing)');
  if (samples !== 1) throw new ImageFileError(file, `has ${samples} samples per pixel; SynPo reads greyscale DICOM`);
  const frames = ds.intString('x00280008') ?? 1;
  if (frames > 1) throw new ImageFileError(file, `is a multi-frame image (${frames} frames); SynPo reads series of single-frame slices`);
  const photometric = ds.string('x00280004')?.trim() ?? 'MONOCHROME2';
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')
    throw new ImageFileError(file, `has PhotometricInterpretation ${photometric}; SynPo reads greyscale (MONOCHROME1/2) DICOM`);
  const count = rows * columns;
  const bytesPer = bits / 8;
  if (![1, 2, 4].includes(bytesPer)) throw new ImageFileError(file, `BitsAllocated ${bits} is not supported`);
  const data = ds.byteArray;
  const encapsulated = Boolean(pixel.encapsulatedPixelData);
  let stored: Uint8Array;
  if (encapsulated) {
    if (UNCOMPRESSED.has(syntax)) throw new ImageFileError(file, `has encapsulated pixel data under the uncompressed transfer syntax ${syntax}`);
    try {
      stored = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, pixel.fragments?.length ?? 1);
    } catch (error) {
      throw new ImageFileError(file, `the compressed pixel data is truncated or malformed (${error instanceof Error ? error.message : String(error)})`);
    }
  } else {
    if (!UNCOMPRESSED.has(syntax)) throw new ImageFileError(file, `transfer syntax ${syntax} (${syntaxName}) with native pixel data`);
    if (pixel.length < count * bytesPer || pixel.dataOffset + count * bytesPer > data.length) {
      throw new ImageFileError(
        file,
        `pixel data is truncated: ${Math.min(pixel.length, data.length - pixel.dataOffset)} bytes for ${rows}×${columns}×${bytesPer}`,
      );
    }
    stored = data.subarray(pixel.dataOffset, pixel.dataOffset + count * bytesPer);
  }
  const spacing = numbers(ds, 'x00280030', 2) ?? [1, 1];
  const text = (tag: string) => ds.string(tag)?.trim() ?? '';
  return {
    slice: {
      file,
      seriesInstanceUid: text('x0020000e'),
      seriesNumber: ds.intString('x00200011') ?? null,
      seriesDescription: text('x0008103e'),
      studyInstanceUid: text('x0020000d'),
      frameOfReferenceUid: text('x00200052'),
      sopClassUid: text('x00080016'),
      sopInstanceUid: text('x00080018'),
      patient: { name: text('x00100010'), id: text('x00100020'), birthDate: text('x00100030'), sex: text('x00100040') },
      study: {
        date: text('x00080020'),
        time: text('x00080030'),
        id: text('x00200010'),
        accessionNumber: text('x00080050'),
        referringPhysicianName: text('x00080090'),
      },
      monochrome1: photometric === 'MONOCHROME1',
      rows,
      columns,
      position: numbers(ds, 'x00200032', 3) as [number, number, number] | null,
      orientation: numbers(ds, 'x00200037', 6),
      spacing: [spacing[0]!, spacing[1]!],
      thickness: ds.floatString('x00180050') ?? 1,
      instance: ds.intString('x00200013') ?? 0,
    },
    stored: {
      syntax,
      syntaxName,
      bytes: stored,
      encapsulated,
      rows,
      columns,
      bitsAllocated: bits,
      signed,
      littleEndian: syntax !== '1.2.840.10008.1.2.2',
      slope: ds.floatString('x00281053') ?? 1,
      intercept: ds.floatString('x00281052') ?? 0,
    },
  };
}

/** Native samples (or a codec's) as intensities: RescaleSlope · raw + RescaleIntercept. */
export function intensities(stored: StoredPixels, decoded?: ArrayLike<number>): Float32Array {
  const count = stored.rows * stored.columns;
  const out = new Float32Array(count);
  const { slope, intercept } = stored;
  if (decoded) {
    for (let i = 0; i < count; i++) out[i] = decoded[i]! * slope + intercept;
    return out;
  }
  const bytesPer = stored.bitsAllocated / 8;
  const view = new DataView(stored.bytes.buffer, stored.bytes.byteOffset, count * bytesPer);
  const { signed, littleEndian: little } = stored;
  for (let i = 0; i < count; i++) {
    const raw =
      bytesPer === 1
        ? signed
          ? view.getInt8(i)
          : view.getUint8(i)
        : bytesPer === 2
          ? signed
            ? view.getInt16(2 * i, little)
            : view.getUint16(2 * i, little)
          : signed
            ? view.getInt32(4 * i, little)
            : view.getUint32(4 * i, little);
    out[i] = raw * slope + intercept;
  }
  return out;
}

/**
 * One uncompressed (or deflated) DICOM slice. Compressed pixel data is refused by name here;
 * `readDicomSeries` (@synpo/io/node) decodes it.
 */
export function decodeDicomSlice(bytes: Uint8Array, file: string): DicomSlice {
  const { slice, stored } = parseDicomSlice(bytes, file);
  if (stored.encapsulated) {
    throw new ImageFileError(
      file,
      `compressed DICOM (transfer syntax ${stored.syntax}, ${stored.syntaxName}) is decoded only by readDicomSeries in Node (@synpo/io/node); decompress the series first (e.g. gdcmconv --raw)`,
    );
  }
  return { ...slice, pixels: intensities(stored) };
}

const cross = (a: number[], b: number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
const dot = (a: number[], b: number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

/** One series of a folder, for the list a user picks from. */
export interface SeriesSummary {
  uid: string;
  number: number | null;
  description: string;
  slices: number;
  size: string;
}

/** The series of a folder's decoded slices, grouped by SeriesInstanceUID (in series-number order). */
export function groupSeries(slices: DicomSlice[]): Map<string, DicomSlice[]> {
  const groups = new Map<string, DicomSlice[]>();
  for (const s of slices) {
    const list = groups.get(s.seriesInstanceUid) ?? [];
    list.push(s);
    groups.set(s.seriesInstanceUid, list);
  }
  return new Map([...groups].sort(([, a], [, b]) => (a[0]!.seriesNumber ?? 0) - (b[0]!.seriesNumber ?? 0)));
}

export function summariseSeries(groups: Map<string, DicomSlice[]>): SeriesSummary[] {
  return [...groups].map(([uid, list]) => ({
    uid,
    number: list[0]!.seriesNumber,
    description: list[0]!.seriesDescription,
    slices: list.length,
    size: `${list[0]!.columns}×${list[0]!.rows}`,
  }));
}

const listing = (summaries: SeriesSummary[]) =>
  summaries
    .map(
      (s) =>
        `  ${s.uid || '(no SeriesInstanceUID)'}: series ${s.number ?? '?'}${s.description ? ` "${s.description}"` : ''}, ${s.slices} slice${s.slices > 1 ? 's' : ''} of ${s.size}`,
    )
    .join('\n');

/**
 * The one series of a folder's slices to read: `uid` when given, the only one otherwise. Several
 * series and no choice is an error listing them.
 */
export function pickSeries(slices: DicomSlice[], folder: string, uid?: string): DicomSlice[] {
  if (slices.length === 0) throw new ImageFileError(folder, 'holds no DICOM slices');
  const groups = groupSeries(slices);
  if (uid !== undefined) {
    const chosen = groups.get(uid);
    if (!chosen) throw new ImageFileError(folder, `has no series ${uid}; it holds:\n${listing(summariseSeries(groups))}`);
    return chosen;
  }
  if (groups.size > 1) {
    throw new ImageFileError(folder, `holds ${groups.size} series; pick one with --series UID:\n${listing(summariseSeries(groups))}`);
  }
  return [...groups.values()][0]!;
}

/** Relative tolerance on slice spacing (and an absolute one, for rounding in the headers). */
const SPACING_TOLERANCE = 0.01;
const SPACING_EPSILON_MM = 0.01;

/**
 * Stacks one series' decoded slices into a volume; `folder` names the series in errors. The
 * volume's `header` is the series' DicomSeriesInfo; `warnings` says what was assumed.
 */
export function stackDicomSlices(slices: DicomSlice[], folder: string): Volume {
  if (slices.length === 0) throw new ImageFileError(folder, 'holds no DICOM slices');
  const first = slices[0]!;
  const warnings: string[] = [];
  for (const s of slices) {
    if (s.seriesInstanceUid !== first.seriesInstanceUid)
      throw new ImageFileError(folder, `mixes series ${first.seriesInstanceUid} and ${s.seriesInstanceUid}; pick one`);
    if (s.rows !== first.rows || s.columns !== first.columns) {
      throw new ImageFileError(
        s.file,
        `is ${s.columns}×${s.rows}, the series' first slice ${first.file} is ${first.columns}×${first.rows}: a series of mixed sizes cannot be stacked`,
      );
    }
    const o = s.orientation;
    const f = first.orientation;
    if ((o === null) !== (f === null) || (o && f && o.some((v, i) => Math.abs(v - f[i]!) > 1e-3))) {
      throw new ImageFileError(
        s.file,
        `has ImageOrientationPatient ${o?.join('\\') ?? '(none)'}, the series' first slice ${first.file} has ${f?.join('\\') ?? '(none)'}: slices of one volume share an orientation`,
      );
    }
  }
  const orientation = first.orientation ?? [1, 0, 0, 0, 1, 0];
  if (!first.orientation) warnings.push(`${folder}: no ImageOrientationPatient; assumed axial (1\\0\\0\\0\\1\\0)`);
  const rowDir = orientation.slice(0, 3);
  const colDir = orientation.slice(3, 6);
  const normal = cross(rowDir, colDir);
  const positioned = slices.every((s) => s.position);
  if (!positioned)
    warnings.push(`${folder}: slices without ImagePositionPatient; ordered by InstanceNumber with SliceThickness ${first.thickness} mm as spacing`);
  const key = (s: DicomSlice) => (positioned ? dot(s.position!, normal) : s.instance);
  const ordered = [...slices].sort((a, b) => key(a) - key(b) || a.instance - b.instance);
  const nz = ordered.length;
  let dz = first.thickness;
  if (positioned && nz > 1) {
    for (let z = 1; z < nz; z++) {
      if (Math.abs(key(ordered[z]!) - key(ordered[z - 1]!)) < SPACING_EPSILON_MM) {
        throw new ImageFileError(
          folder,
          `two slices at one position (${ordered[z - 1]!.position!.join('\\')}): ${ordered[z - 1]!.file} and ${ordered[z]!.file}; remove the duplicate`,
        );
      }
    }
    const gaps = ordered.slice(1).map((s, z) => key(s) - key(ordered[z]!));
    const sorted = [...gaps].sort((a, b) => a - b);
    dz = sorted[Math.floor(sorted.length / 2)]!;
    for (const [z, gap] of gaps.entries()) {
      if (Math.abs(gap - dz) > Math.max(SPACING_EPSILON_MM, SPACING_TOLERANCE * dz)) {
        const missing = gap > 1.5 * dz ? `about ${Math.round(gap / dz) - 1} slice(s) missing` : 'irregular spacing';
        throw new ImageFileError(
          folder,
          `${missing}: ${gap.toFixed(2)} mm between ${ordered[z]!.file} and ${ordered[z + 1]!.file}, the series' spacing is ${dz.toFixed(2)} mm; a volume needs evenly spaced slices (complete the series, or convert it with a tool that resamples)`,
        );
      }
    }
  }
  const plane = first.rows * first.columns;
  const data = new Float32Array(plane * nz);
  ordered.forEach((s, z) => data.set(s.pixels, z * plane));
  if (first.monochrome1) {
    // MONOCHROME1 shows low values bright: invert within the series' range so the volume reads as MONOCHROME2.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < data.length; i++) {
      if (data[i]! < lo) lo = data[i]!;
      if (data[i]! > hi) hi = data[i]!;
    }
    for (let i = 0; i < data.length; i++) data[i] = lo + hi - data[i]!;
  }
  // PixelSpacing is (between rows, between columns): x (columns) steps by [1], y (rows) by [0].
  const [dy, dx] = first.spacing;
  const origin = ordered[0]!.position ?? [0, 0, 0];
  const lps = [
    [rowDir[0]! * dx, colDir[0]! * dy, normal[0]! * dz, origin[0]],
    [rowDir[1]! * dx, colDir[1]! * dy, normal[1]! * dz, origin[1]],
    [rowDir[2]! * dx, colDir[2]! * dy, normal[2]! * dz, origin[2]],
  ];
  // LPS → RAS: negate the first two rows.
  const affine = [lps[0]!.map((v) => -v!), lps[1]!.map((v) => -v!), lps[2]!.map((v) => v!), [0, 0, 0, 1]];
  const header: DicomSeriesInfo = {
    kind: 'dicom-series',
    studyInstanceUid: first.studyInstanceUid,
    seriesInstanceUid: first.seriesInstanceUid,
    frameOfReferenceUid: first.frameOfReferenceUid,
    patient: first.patient,
    study: first.study,
    instances: ordered.map((s, z) => ({
      sopClassUid: s.sopClassUid,
      sopInstanceUid: s.sopInstanceUid,
      position: s.position ?? [origin[0]! + normal[0]! * dz * z, origin[1]! + normal[1]! * dz * z, origin[2]! + normal[2]! * dz * z],
    })),
    orientation,
    pixelSpacing: first.spacing,
  };
  return { data, dims: [first.columns, first.rows, nz], spacing: [dx, dy, dz], affine, source: folder, header, ...(warnings.length && { warnings }) };
}

export function isDicomSeriesInfo(header: unknown): header is DicomSeriesInfo {
  return typeof header === 'object' && header !== null && (header as { kind?: unknown }).kind === 'dicom-series';
}
