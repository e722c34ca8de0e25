/**
 * `--out` in the clinical formats: a DICOM query (CHAOS image_1 written as a DICOM series) gives
 * a DICOM SEG that reads back as the mask the NIfTI query gives; NRRD carries the same voxels
 * and geometry as NIfTI.
 */
/// <reference path="../../packages/io/src/dcmjs.d.ts" />
import dcmjs from 'dcmjs';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNifti, decodeNrrd, worldOf, type Volume } from '@synpo/io';
import { readDicomSeries, readNifti } from '@synpo/io/node';
import { decodeDicomSeg } from '@synpo/io/seg';
import { DATA, synpo } from './run.ts';

const CHAOS = `${DATA}chaos-t2/`;
const tmp = () => mkdtempSync(join(tmpdir(), 'synpo-outputs-'));
const support = ['--support-image', `${CHAOS}image_8.nii.gz`, '--support-label', `${CHAOS}label_8.nii.gz`];

/** A NIfTI volume (int16 intensities) as a DICOM series with the same voxels at the same world positions. */
function asDicomSeries(v: Volume, dir: string, seriesUid: string): void {
  mkdirSync(dir, { recursive: true });
  const [nx, ny, nz] = v.dims;
  const A = v.affine;
  // RAS → LPS, and the directions of voxel x (along a row) and y (down a column).
  const lps = (c: number[]) => [-c[0]!, -c[1]!, c[2]!];
  const col = (j: number) => [A[0]![j]!, A[1]![j]!, A[2]![j]!];
  const unit = (c: number[]) => { const n = Math.hypot(...c); return c.map((x) => x / n); };
  const orientation = [...unit(lps(col(0))), ...unit(lps(col(1)))];
  for (let z = 0; z < nz; z++) {
    const position = lps(worldOf(A, [0, 0, z]));
    const pixels = Int16Array.from(v.data.subarray(z * nx * ny, (z + 1) * nx * ny));
    const uid = `${seriesUid}.${z + 1}`;
    const ds = {
      _meta: { TransferSyntaxUID: '1.2.840.10008.1.2.1', MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.4', MediaStorageSOPInstanceUID: uid, ImplementationClassUID: '1.2.3' },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4', SOPInstanceUID: uid, Modality: 'MR',
      StudyInstanceUID: '1.2.826.1', SeriesInstanceUID: seriesUid, FrameOfReferenceUID: '1.2.826.3', PatientName: 'Chaos^One', PatientID: 'C1',
      Rows: ny, Columns: nx, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 1, SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2', PixelSpacing: [Math.hypot(...col(1)), Math.hypot(...col(0))],
      ImagePositionPatient: position, ImageOrientationPatient: orientation, InstanceNumber: z + 1, SliceThickness: Math.hypot(...col(2)),
      PixelData: pixels.buffer,
    };
    writeFileSync(join(dir, `IM${String(z).padStart(4, '0')}`), new Uint8Array(dcmjs.data.datasetToBuffer(ds)));
  }
}

describe('clinical outputs', () => {
  it('a DICOM query gives a DICOM SEG (one segment per organ) that reads back as the NIfTI run\'s mask', async () => {
    const dir = tmp();
    const image = await readNifti(`${CHAOS}image_1.nii.gz`);
    const series = join(dir, 'series');
    asDicomSeries(image, series, '1.2.826.2');
    const seg = join(dir, 'organs.dcm');
    const args = ['--organs', 'liver,right-kidney', '--device', 'cpu', '--json'];
    const r = await synpo('segment', ...support, '--query', series, '--out', seg, ...args);
    expect(r.code, r.stderr).toBe(0);
    const nii = join(dir, 'organs.nii.gz');
    const n = await synpo('segment', ...support, '--query', `${CHAOS}image_1.nii.gz`, '--out', nii, ...args);
    expect(n.code, n.stderr).toBe(0);

    const source = await readDicomSeries(series);
    const back = decodeDicomSeg(new Uint8Array(readFileSync(seg)), source, seg);
    expect(back.referencedSeriesInstanceUid).toBe('1.2.826.2');
    expect(back.segments).toEqual([{ number: 1, label: 'liver' }, { number: 2, label: 'right-kidney' }]);
    const mask = decodeNifti(new Uint8Array(readFileSync(nii)), nii);
    // The series' slices run along its normal (here head to feet): match slices by world position.
    const plane = image.dims[0] * image.dims[1];
    const niftiSlice = (z: number) => {
      const w = worldOf(source.affine, [0, 0, z]);
      const k = Array.from({ length: image.dims[2] }, (_, k) => k).find((k) => worldOf(image.affine, [0, 0, k]).every((x, i) => Math.abs(x - w[i]!) < 0.01));
      expect(k, `series slice ${z} is at no NIfTI slice`).toBeDefined();
      return k!;
    };
    // Segment 1 is the liver (value 1), 2 the right kidney (value 2): the same voxels.
    let differ = 0;
    let organ = 0;
    for (let z = 0; z < source.dims[2]; z++) {
      const k = niftiSlice(z);
      for (let i = 0; i < plane; i++) {
        const v = mask.data[k * plane + i]!;
        if (v !== back.labels[z * plane + i]) differ++;
        if (v) organ++;
      }
    }
    expect(organ).toBeGreaterThan(1000);
    expect(differ / organ).toBeLessThan(0.01);
  });

  it('NRRD holds the voxels and geometry NIfTI holds', async () => {
    const dir = tmp();
    const args = [...support, '--organ', 'spleen', '--query', `${CHAOS}image_2.nii.gz`, '--slices', '12:14', '--device', 'cpu', '--value', '300'];
    expect((await synpo('segment', ...args, '--out', join(dir, 'm.nrrd'))).code).toBe(0);
    expect((await synpo('segment', ...args, '--out', join(dir, 'm.nii.gz'))).code).toBe(0);
    const nrrd = decodeNrrd(new Uint8Array(readFileSync(join(dir, 'm.nrrd'))), 'm.nrrd');
    const nii = decodeNifti(new Uint8Array(readFileSync(join(dir, 'm.nii.gz'))), 'm.nii.gz');
    expect(nrrd.dims).toEqual(nii.dims);
    expect(Array.from(nrrd.data)).toEqual(Array.from(nii.data));
    expect(new Set(nii.data)).toEqual(new Set([0, 300]));
    for (const ijk of [[0, 0, 0], [200, 10, 30]]) {
      const a = worldOf(nrrd.affine, ijk);
      worldOf(nii.affine, ijk).forEach((x, i) => expect(a[i]).toBeCloseTo(x, 3));
    }
  });

  it('--out .dcm for a query that is not DICOM is refused before any work', async () => {
    const dir = tmp();
    const r = await synpo('segment', ...support, '--organ', 'liver', '--query', `${CHAOS}image_1.nii.gz`, '--out', join(dir, 'x.dcm'), '--device', 'cpu');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a DICOM SEG references the DICOM series it segments, and the query .*image_1\.nii\.gz is not a DICOM series/);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, 'x.dcm'))).toBe(false);
  });
});
