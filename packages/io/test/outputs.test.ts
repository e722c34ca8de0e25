/** Clinical outputs round-trip: NRRD with its space directions, DICOM SEG referencing its series. */
import dcmjs from 'dcmjs';
import dicomParser from 'dicom-parser';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNrrd, encodeNrrdMask, ImageFileError, worldOf, type DicomSeriesInfo } from '../src/index.ts';
import { readDicomSeries, readNifti } from '../src/node.ts';
import { decodeDicomSeg, encodeDicomSeg } from '../src/seg.ts';
import { DATA, itWithData } from '../../../test/support/data.ts';

describe('NRRD', () => {
  itWithData(['chaos-t2'], "round-trips a mask with the volume's geometry (CHAOS image_2, an oblique LAS affine)", async () => {
    const v = await readNifti(`${DATA}chaos-t2/image_2.nii.gz`);
    const labels = new Uint8Array(v.data.length);
    for (let i = 0; i < labels.length; i += 101) labels[i] = 1 + (i % 4);
    const bytes = encodeNrrdMask(labels, v);
    const text = new TextDecoder().decode(bytes.subarray(0, 400));
    expect(text).toMatch(/type: uint8\n/);
    expect(text).toMatch(/space: left-posterior-superior\n/);
    expect(text).toMatch(/encoding: gzip\n/);
    const back = decodeNrrd(bytes, 'mask.nrrd');
    expect(back.dims).toEqual(v.dims);
    expect(Array.from(back.data)).toEqual(Array.from(labels));
    // Every voxel at the same world position (to the float32 precision of the header).
    for (const ijk of [
      [0, 0, 0],
      [255, 0, 30],
      [17, 200, 12],
    ]) {
      const a = worldOf(back.affine, ijk);
      worldOf(v.affine, ijk).forEach((x, r) => expect(a[r]).toBeCloseTo(x, 3));
    }
    // The same mask is the same file.
    expect(Buffer.from(encodeNrrdMask(labels, v)).equals(Buffer.from(bytes))).toBe(true);
  });

  itWithData(['totalseg'], 'writes uint16 when a label is above 255, and raw when asked', async () => {
    const v = await readNifti(`${DATA}totalseg/example_ct_sm.nii.gz`);
    const labels = new Uint16Array(v.data.length);
    labels[7] = 300;
    labels[8] = 65535;
    const bytes = encodeNrrdMask(labels, v, false);
    expect(new TextDecoder().decode(bytes.subarray(0, 300))).toMatch(/type: uint16\n[^]*encoding: raw\n/);
    const back = decodeNrrd(bytes, 'm.nrrd');
    expect([back.data[7], back.data[8]]).toEqual([300, 65535]);
  });

  it('reads a RAS-space NRRD written by hand, and refuses what it cannot read, by name', () => {
    const header =
      'NRRD0004\ntype: short\ndimension: 3\nspace: right-anterior-superior\nsizes: 2 1 1\nspace directions: (2,0,0) (0,2,0) (0,0,3)\nendian: little\nencoding: raw\nspace origin: (10,20,30)\n\n';
    const bytes = new Uint8Array([...new TextEncoder().encode(header), 0xff, 0xff, 7, 0]);
    const v = decodeNrrd(bytes, 'h.nrrd');
    expect(Array.from(v.data)).toEqual([-1, 7]);
    expect(v.affine[0]).toEqual([2, 0, 0, 10]);
    const bad: [Uint8Array, RegExp][] = [
      [new TextEncoder().encode('P5 1 1 255\n'), /not a NRRD file/],
      [new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 1 1 1\nencoding: raw\ndata file: x.raw\n\n'), /detached NRRD data/],
      [new TextEncoder().encode('NRRD0004\ntype: short\ndimension: 3\nsizes: 1 1 1\nencoding: bzip2\n\n'), /encoding "bzip2" is not read/],
    ];
    for (const [b, message] of bad)
      (expect(() => decodeNrrd(b, '/x/in.nrrd')).toThrow(ImageFileError), expect(() => decodeNrrd(b, '/x/in.nrrd')).toThrow(message));
  });
});

/** A small CT series written by dcmjs: 4 columns × 3 rows × 3 slices, tilted orientation. */
async function series(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'seg-'));
  for (let z = 0; z < 3; z++) {
    const ds = {
      _meta: {
        TransferSyntaxUID: '1.2.840.10008.1.2.1',
        MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
        MediaStorageSOPInstanceUID: `1.2.3.4.${z + 1}`,
        ImplementationClassUID: '1.2.3',
      },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: `1.2.3.4.${z + 1}`,
      Modality: 'CT',
      StudyInstanceUID: '1.2.3.1',
      SeriesInstanceUID: '1.2.3.2',
      FrameOfReferenceUID: '1.2.3.3',
      PatientName: 'Seg^Test',
      PatientID: 'S1',
      StudyDate: '20260101',
      StudyTime: '120000',
      StudyID: '7',
      Rows: 3,
      Columns: 4,
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelSpacing: [0.9, 0.8],
      ImagePositionPatient: [-5, 7, 10 + 2.5 * z],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      InstanceNumber: 3 - z,
      SliceThickness: 2.5,
      PixelData: new Int16Array(12).fill(z).buffer,
    };
    writeFileSync(join(dir, `s${z}.dcm`), new Uint8Array(dcmjs.data.datasetToBuffer(ds)));
  }
  return dir;
}

describe('DICOM SEG', () => {
  it('round-trips two organs, one segment each, frames referencing their source instances', async () => {
    const v = await readDicomSeries(await series());
    const labels = new Uint16Array(36);
    labels.set([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0); // liver on slice 0
    labels.set([0, 0, 0, 0, 0, 4, 4, 0, 0, 1, 0, 0], 24); // spleen and liver on slice 2
    const bytes = encodeDicomSeg(
      labels,
      v,
      [
        { number: 1, label: 'liver', value: 1 },
        { number: 2, label: 'spleen', value: 4 },
      ],
      { now: new Date(Date.UTC(2026, 10, 27, 12, 0, 0)) },
    );
    // dicom-parser (another reader) sees a binary SEG of the source study.
    const ds = dicomParser.parseDicom(bytes);
    expect(ds.string('x00080016')).toBe('1.2.840.10008.5.1.4.1.1.66.4');
    expect(ds.string('x00080060')).toBe('SEG');
    expect(ds.string('x0020000d')).toBe('1.2.3.1');
    expect(ds.uint16('x00280100')).toBe(1);
    expect(ds.intString('x00280008')).toBe(3); // liver on slices 0 and 2, spleen on 2
    const back = decodeDicomSeg(bytes, v);
    expect(back.referencedSeriesInstanceUid).toBe('1.2.3.2');
    expect(back.segments).toEqual([
      { number: 1, label: 'liver' },
      { number: 2, label: 'spleen' },
    ]);
    const toValue = [0, 1, 4];
    expect(Array.from(back.labels, (s) => toValue[s])).toEqual(Array.from(labels));
    // The same labels, the same UIDs (the SEG's identity follows its content).
    const again = decodeDicomSeg(
      encodeDicomSeg(labels, v, [
        { number: 1, label: 'liver', value: 1 },
        { number: 2, label: 'spleen', value: 4 },
      ]),
      v,
    );
    expect(again.seriesInstanceUid).toBe(back.seriesInstanceUid);
    expect((v.header as DicomSeriesInfo).instances.map((i) => i.sopInstanceUid)).toEqual(['1.2.3.4.1', '1.2.3.4.2', '1.2.3.4.3']);
  });

  it('passes dciodvfy (dicom3tools) with no error and no warning', async () => {
    const v = await readDicomSeries(await series());
    const labels = new Uint16Array(36);
    labels[0] = 1;
    labels[30] = 4;
    const file = join(mkdtempSync(join(tmpdir(), 'seg-')), 'seg.dcm');
    writeFileSync(
      file,
      encodeDicomSeg(labels, v, [
        { number: 1, label: 'liver', value: 1 },
        { number: 2, label: 'spleen', value: 4 },
      ]),
    );
    // dciodvfy prints the IOD it recognised, then a line per error or warning.
    const report = execFileSync('sh', ['-c', `dciodvfy '${file}' 2>&1 || true`], { encoding: 'utf8' });
    expect(report).toMatch(/^Segmentation$/m);
    expect(report).not.toMatch(/Error|Warning/);
  });

  itWithData(['totalseg'], 'an empty mask is one empty frame; a volume not read from DICOM is refused', async () => {
    const v = await readDicomSeries(await series());
    const back = decodeDicomSeg(encodeDicomSeg(new Uint8Array(36), v, [{ number: 1, label: 'liver', value: 1 }]), v);
    expect(back.labels.every((x) => x === 0)).toBe(true);
    const nifti = await readNifti(`${DATA}totalseg/example_ct_sm.nii.gz`);
    expect(() => encodeDicomSeg(new Uint8Array(nifti.data.length), nifti, [{ number: 1, label: 'liver', value: 1 }])).toThrow(
      /a DICOM SEG can only be written for a DICOM query/,
    );
  });
});
