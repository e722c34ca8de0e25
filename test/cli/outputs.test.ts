/**
 * `--out` in the clinical formats: a DICOM query (CHAOS image_1 written as a DICOM series) gives
 * a DICOM SEG that reads back as the mask the NIfTI query gives; NRRD carries the same voxels
 * and geometry as NIfTI.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNifti, decodeNrrd, worldOf } from '@synpo/io';
import { readDicomSeries, readNifti } from '@synpo/io/node';
import { decodeDicomSeg } from '@synpo/io/seg';
import { asDicomSeries, DATA, synpo } from './run.ts';
import { describeWithData } from '../support/data.ts';

const CHAOS = `${DATA}chaos-t2/`;
const tmp = () => mkdtempSync(join(tmpdir(), 'synpo-outputs-'));
const support = ['--support-image', `${CHAOS}image_8.nii.gz`, '--support-label', `${CHAOS}label_8.nii.gz`];

describeWithData(['chaos-t2'], 'clinical outputs', () => {
  it("a DICOM query gives a DICOM SEG (one segment per organ) that reads back as the NIfTI run's mask", async () => {
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
    expect(back.segments).toEqual([
      { number: 1, label: 'liver' },
      { number: 2, label: 'right-kidney' },
    ]);
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
    for (const ijk of [
      [0, 0, 0],
      [200, 10, 30],
    ]) {
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
