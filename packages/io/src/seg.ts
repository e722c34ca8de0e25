/// <reference path="./dcmjs.d.ts" />
/**
 * DICOM Segmentation (SEG) objects through dcmjs: a label volume on a DICOM series' grid becomes
 * a binary SEG, one segment per organ, one frame per segment and slice that holds it, each frame
 * referencing the source instance it was drawn on (and the SEG referencing the source series),
 * so PACS viewers and 3D Slicer overlay it on the series. Reading one back gives the label volume
 * on that grid, for round trips.
 *
 * A separate entry point (`@synpo/io/seg`): dcmjs is large and only this needs it.
 */
import dcmjs from 'dcmjs';
import { isDicomSeriesInfo, type DicomSeriesInfo } from './dicom.ts';
import { ImageFileError } from './errors.ts';
import { crc32 } from './gzip.ts';
import type { Volume } from './volume.ts';

const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LITTLE = '1.2.840.10008.1.2.1';

export interface SegSegment {
  /** Segment number in the SEG, 1, 2, … */
  number: number;
  /** Its label (e.g. "liver"). */
  label: string;
  /** The value that marks it in the label volume. */
  value: number;
}

/** SNOMED CT codes of the organs SynPo's label maps name (others are coded as an organ). */
const ORGAN_CODES: Record<string, [string, string]> = {
  liver: ['10200004', 'Liver'],
  spleen: ['78961009', 'Spleen'],
  'right-kidney': ['9846003', 'Right kidney'],
  'left-kidney': ['18639004', 'Left kidney'],
};

const code = (value: string, scheme: string, meaning: string) => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning });

/** A UID under the 2.25 root from a 128-bit digest of `parts` (the same content, the same UID). */
function uidOf(...parts: string[]): string {
  const text = new TextEncoder().encode(parts.join('\u0000'));
  let n = 0n;
  for (let salt = 0; salt < 4; salt++) {
    const salted = new Uint8Array(text.length + 1);
    salted.set(text);
    salted[text.length] = salt;
    n = (n << 32n) | BigInt(crc32(salted));
  }
  return `2.25.${n}`;
}

const dicomDate = (d: Date) => `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
const dicomTime = (d: Date) =>
  `${String(d.getUTCHours()).padStart(2, '0')}${String(d.getUTCMinutes()).padStart(2, '0')}${String(d.getUTCSeconds()).padStart(2, '0')}`;

function seriesOf(like: Volume): DicomSeriesInfo {
  if (!isDicomSeriesInfo(like.header)) throw new ImageFileError(like.source, 'is not a DICOM series: a DICOM SEG can only be written for a DICOM query');
  const info = like.header;
  if (info.instances.length !== like.dims[2]) throw new RangeError(`${like.source}: ${info.instances.length} instances for ${like.dims[2]} slices`);
  return info;
}

/**
 * A binary DICOM SEG of `labels` (on `like`'s grid: the series read by readDicomSeries, slices in
 * its order) with one segment per entry of `segments`.
 */
export function encodeDicomSeg(
  labels: ArrayLike<number>,
  like: Volume,
  segments: readonly SegSegment[],
  opts: { now?: Date; seriesDescription?: string } = {},
): Uint8Array {
  const info = seriesOf(like);
  const [nx, ny, nz] = like.dims;
  const plane = nx * ny;
  if (labels.length !== plane * nz) throw new RangeError(`mask has ${labels.length} voxels, ${like.source} has ${nx}×${ny}×${nz}`);
  if (segments.length === 0) throw new RangeError('a DICOM SEG needs at least one segment');
  // One frame per (segment, slice) that holds the segment.
  const frames: { segment: SegSegment; z: number }[] = [];
  for (const segment of segments) {
    for (let z = 0; z < nz; z++) {
      for (let i = z * plane; i < (z + 1) * plane; i++) {
        if (labels[i] === segment.value) {
          frames.push({ segment, z });
          break;
        }
      }
    }
  }
  // A SEG holds at least one frame: an empty mask is one empty frame of the first segment.
  const empty = frames.length === 0;
  if (empty) frames.push({ segment: segments[0]!, z: 0 });
  // BitsAllocated 1: frames packed bit by bit, first pixel in the lowest bit.
  const bits = new Uint8Array(Math.ceil((frames.length * plane) / 8));
  frames.forEach(({ segment, z }, f) => {
    if (empty) return;
    for (let i = 0; i < plane; i++) {
      if (labels[z * plane + i] === segment.value) {
        const bit = f * plane + i;
        bits[bit >> 3] = bits[bit >> 3]! | (1 << (bit & 7));
      }
    }
  });
  const digest = `${crc32(bits)}:${frames.length}:${segments.map((s) => `${s.number}=${s.label}`).join(',')}`;
  const seriesUid = uidOf('series', info.seriesInstanceUid, digest);
  const sopUid = uidOf('instance', info.seriesInstanceUid, digest);
  const dimensionUid = uidOf('dimensions', info.seriesInstanceUid, digest);
  const now = opts.now ?? new Date();
  const [rowSpacing, colSpacing] = info.pixelSpacing;
  const ds = {
    _meta: {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: SEG_SOP_CLASS,
      MediaStorageSOPInstanceUID: sopUid,
      TransferSyntaxUID: EXPLICIT_LITTLE,
      ImplementationClassUID: '2.25.174583254981237689452183461239875412',
      ImplementationVersionName: 'SYNPO_0_1',
    },
    _vrMap: { PixelData: 'OB' },
    SOPClassUID: SEG_SOP_CLASS,
    SOPInstanceUID: sopUid,
    StudyInstanceUID: info.studyInstanceUid,
    SeriesInstanceUID: seriesUid,
    FrameOfReferenceUID: info.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    Modality: 'SEG',
    SeriesNumber: 901,
    InstanceNumber: 1,
    SeriesDescription: opts.seriesDescription ?? 'SynPo segmentation',
    PatientName: info.patient.name,
    PatientID: info.patient.id,
    PatientBirthDate: info.patient.birthDate,
    PatientSex: info.patient.sex,
    StudyDate: info.study.date,
    StudyTime: info.study.time,
    StudyID: info.study.id,
    AccessionNumber: info.study.accessionNumber,
    ReferringPhysicianName: info.study.referringPhysicianName,
    Manufacturer: 'synpo',
    ManufacturerModelName: 'SynPo',
    SoftwareVersions: '0.1.0',
    DeviceSerialNumber: '1',
    ContentDate: dicomDate(now),
    ContentTime: dicomTime(now),
    ContentLabel: 'SYNPO',
    ContentDescription: 'Training-free few-shot segmentation',
    ContentCreatorName: 'SynPo^',
    ImageType: ['DERIVED', 'PRIMARY'],
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    SegmentSequence: segments.map((s) => {
      const [value, meaning] = ORGAN_CODES[s.label] ?? ['113343008', 'Organ'];
      return {
        SegmentNumber: s.number,
        SegmentLabel: s.label,
        SegmentAlgorithmType: 'SEMIAUTOMATIC',
        SegmentAlgorithmName: 'SynPo',
        SegmentedPropertyCategoryCodeSequence: [code('123037004', 'SCT', 'Anatomical Structure')],
        SegmentedPropertyTypeCodeSequence: [code(value, 'SCT', meaning)],
      };
    }),
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x0062000b,
        FunctionalGroupPointer: 0x0062000a,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: dimensionUid,
        DimensionIndexPointer: 0x00200032,
        FunctionalGroupPointer: 0x00209113,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: info.orientation }],
        PixelMeasuresSequence: [{ PixelSpacing: [rowSpacing, colSpacing], SliceThickness: like.spacing[2], SpacingBetweenSlices: like.spacing[2] }],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map(({ segment, z }) => {
      const instance = info.instances[z]!;
      return {
        DerivationImageSequence: [
          {
            SourceImageSequence: [
              {
                ReferencedSOPClassUID: instance.sopClassUid,
                ReferencedSOPInstanceUID: instance.sopInstanceUid,
                PurposeOfReferenceCodeSequence: [code('121322', 'DCM', 'Source image for image processing operation')],
              },
            ],
            DerivationCodeSequence: [code('113076', 'DCM', 'Segmentation')],
          },
        ],
        FrameContentSequence: [{ DimensionIndexValues: [segment.number, z + 1] }],
        PlanePositionSequence: [{ ImagePositionPatient: instance.position }],
        SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segment.number }],
      };
    }),
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: info.seriesInstanceUid,
        ReferencedInstanceSequence: info.instances.map((i) => ({ ReferencedSOPClassUID: i.sopClassUid, ReferencedSOPInstanceUID: i.sopInstanceUid })),
      },
    ],
    PixelData: bits.buffer,
  };
  return new Uint8Array(dcmjs.data.datasetToDict(ds).write());
}

export interface DecodedSeg {
  /** Segment numbers on `like`'s grid (0 outside every segment; a later segment wins an overlap). */
  labels: Uint16Array;
  segments: { number: number; label: string }[];
  seriesInstanceUid: string;
  referencedSeriesInstanceUid: string;
}

/** Reads a binary DICOM SEG back onto the grid of the series it references (`like`). */
export function decodeDicomSeg(bytes: Uint8Array, like: Volume, file = 'seg.dcm'): DecodedSeg {
  const info = seriesOf(like);
  let ds: Record<string, unknown>;
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const dict = dcmjs.data.DicomMessage.readFile(buffer).dict;
    ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, unknown>;
  } catch (error) {
    throw new ImageFileError(file, `not a readable DICOM file (${(error as Error).message})`);
  }
  if (ds.SOPClassUID !== SEG_SOP_CLASS) throw new ImageFileError(file, `is not a DICOM SEG (SOP class ${String(ds.SOPClassUID)})`);
  if (ds.SegmentationType !== 'BINARY') throw new ImageFileError(file, `is a ${String(ds.SegmentationType)} SEG; binary SEGs are read`);
  const [nx, ny, nz] = like.dims;
  if (ds.Rows !== ny || ds.Columns !== nx) throw new ImageFileError(file, `is ${String(ds.Columns)}×${String(ds.Rows)}, ${like.source} is ${nx}×${ny}`);
  const plane = nx * ny;
  const pixel = ds.PixelData as ArrayBuffer | ArrayBuffer[];
  const bits = new Uint8Array(Array.isArray(pixel) ? pixel[0]! : pixel);
  const byUid = new Map(info.instances.map((i, z) => [i.sopInstanceUid, z]));
  const perFrame = ds.PerFrameFunctionalGroupsSequence as Record<string, unknown>[];
  const first = <T>(v: unknown): T => (Array.isArray(v) ? v[0] : v) as T;
  const labels = new Uint16Array(plane * nz);
  perFrame.forEach((group, f) => {
    const segment = first<{ ReferencedSegmentNumber: number }>(group.SegmentIdentificationSequence).ReferencedSegmentNumber;
    const derivation = first<{ SourceImageSequence: unknown }>(group.DerivationImageSequence);
    const uid = first<{ ReferencedSOPInstanceUID: string }>(derivation.SourceImageSequence).ReferencedSOPInstanceUID;
    const z = byUid.get(uid);
    if (z === undefined) throw new ImageFileError(file, `frame ${f + 1} references ${uid}, which is not in ${like.source}`);
    for (let i = 0; i < plane; i++) {
      const bit = f * plane + i;
      if (bits[bit >> 3]! & (1 << (bit & 7))) labels[z * plane + i] = segment;
    }
  });
  const segments = (ds.SegmentSequence as { SegmentNumber: number; SegmentLabel: string }[]).map((s) => ({ number: s.SegmentNumber, label: s.SegmentLabel }));
  const referenced = first<{ SeriesInstanceUID: string }>(ds.ReferencedSeriesSequence);
  return { labels, segments, seriesInstanceUid: String(ds.SeriesInstanceUID), referencedSeriesInstanceUid: referenced.SeriesInstanceUID };
}
