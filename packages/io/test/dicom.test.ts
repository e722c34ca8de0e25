import dcmjs from 'dcmjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDicomSlice, ImageFileError } from '../src/index.ts';
import { readDicomSeries } from '../src/node.ts';

/** A single-frame CT slice written by dcmjs (a test fixture only; the reader is dicom-parser). */
function dicomSlice(z: number, instance: number, fill: number): Uint8Array {
  const rows = 4;
  const cols = 3;
  const pixels = new Int16Array(rows * cols).map((_, i) => fill + i);
  const ds = {
    _meta: {
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      MediaStorageSOPInstanceUID: `1.2.3.${instance}`,
      ImplementationClassUID: '1.2.3',
    },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: `1.2.3.${instance}`,
    Modality: 'CT',
    Rows: rows,
    Columns: cols,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 1,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelSpacing: [0.7, 0.8],
    ImagePositionPatient: [-10, 20, z],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    RescaleSlope: 2,
    RescaleIntercept: -1024,
    InstanceNumber: instance,
    SliceThickness: 2.5,
    PixelData: pixels.buffer,
  };
  return new Uint8Array(dcmjs.data.datasetToBuffer(ds));
}

function series(files: Record<string, Uint8Array>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-'));
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(dir, name), bytes);
  return dir;
}

describe('DICOM series', () => {
  it('orders slices by position along the normal, rescales, and converts the affine to RAS', async () => {
    // Written out of order, with instance numbers that disagree with the positions.
    const dir = series({
      a: dicomSlice(7.5, 1, 300),
      b: dicomSlice(2.5, 3, 100),
      c: dicomSlice(5, 2, 200),
      'notes.txt': new TextEncoder().encode('not dicom'),
    });
    const v = await readDicomSeries(dir);
    expect(v.dims).toEqual([3, 4, 3]);
    expect(v.spacing).toEqual([0.8, 0.7, 2.5]);
    // Slice 0 is z = 2.5 (fill 100): (100 + i)·2 − 1024.
    expect(Array.from(v.data.subarray(0, 3))).toEqual([-824, -822, -820]);
    expect(v.data[24]).toBe(600 - 1024);
    expect(v.affine[0]).toEqual([-0.8, -0, -0, 10]);
    expect(v.affine[1]).toEqual([-0, -0.7, -0, -20]);
    expect(v.affine[2]!.map((x) => +x.toFixed(6))).toEqual([0, 0, 2.5, 2.5]);
  });

  it('refuses a compressed transfer syntax over native pixel data, naming the file', () => {
    // dcmjs always writes explicit little endian; relabel the file as RLE (a UID of the same length).
    const bytes = dicomSlice(0, 1, 0);
    const at = Buffer.from(bytes).indexOf('1.2.840.10008.1.2.1\0');
    bytes.set(new TextEncoder().encode('1.2.840.10008.1.2.5'), at);
    expect(() => decodeDicomSlice(bytes, '/s/x.dcm')).toThrow(/\/s\/x\.dcm: transfer syntax 1\.2\.840\.10008\.1\.2\.5 \(RLE Lossless\) with native pixel data/);
  });

  it('refuses truncated pixel data', () => {
    const bytes = dicomSlice(0, 1, 0);
    expect(() => decodeDicomSlice(bytes.subarray(0, bytes.length - 10), 'cut.dcm')).toThrow(ImageFileError);
  });

  it('a folder without DICOM files is an error', async () => {
    await expect(readDicomSeries(series({ 'a.txt': new Uint8Array(10) }))).rejects.toThrow(/holds no DICOM slices/);
  });
});
