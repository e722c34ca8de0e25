/**
 * Compressed DICOM: a series written uncompressed by dcmjs, compressed by GDCM's gdcmconv (an
 * independent encoder) into each transfer syntax, reads back with the same intensities (lossless
 * syntaxes exactly, JPEG Baseline within its loss).
 */
import dcmjs from 'dcmjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDicomSlice } from '../src/index.ts';
import { readDicomSeries } from '../src/node.ts';

const ROWS = 24;
const COLS = 32;

/** Two slices of signed 16-bit CT (or unsigned 8-bit), a pattern with edges and smooth parts. */
function series(dir: string, bits: 8 | 16): void {
  mkdirSync(dir, { recursive: true });
  for (let z = 0; z < 2; z++) {
    const n = ROWS * COLS;
    const pixels =
      bits === 16
        ? new Int16Array(n).map((_, i) => (((i % COLS) * 40 + Math.floor(i / COLS) * 13 + z * 100) % 3000) - 1024)
        : new Uint8Array(n).map((_, i) => (i % COLS < 16 ? 40 : 200) + z * 10);
    const ds = {
      _meta: {
        TransferSyntaxUID: '1.2.840.10008.1.2.1',
        MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
        MediaStorageSOPInstanceUID: `1.2.3.5.${z}`,
        ImplementationClassUID: '1.2.3',
      },
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      SOPInstanceUID: `1.2.3.5.${z}`,
      Modality: 'CT',
      SeriesInstanceUID: '1.2.3.6',
      StudyInstanceUID: '1.2.3.7',
      Rows: ROWS,
      Columns: COLS,
      BitsAllocated: bits,
      BitsStored: bits,
      HighBit: bits - 1,
      PixelRepresentation: bits === 16 ? 1 : 0,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      PixelSpacing: [0.7, 0.7],
      ImagePositionPatient: [0, 0, 3 * z],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      RescaleSlope: 1,
      RescaleIntercept: bits === 16 ? 0 : -100,
      InstanceNumber: z + 1,
      PixelData: pixels.buffer,
    };
    writeFileSync(join(dir, `s${z}.dcm`), new Uint8Array(dcmjs.data.datasetToBuffer(ds)));
  }
}

/** The series in `from`, each file converted by gdcmconv with `flags`. */
function convert(from: string, to: string, flags: string[]): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) execFileSync('gdcmconv', [...flags, join(from, name), join(to, name)], { stdio: 'ignore' });
}

const CASES: [string, string[], 8 | 16, RegExp][] = [
  ['RLE Lossless', ['--rle'], 16, /RLELossless/],
  ['JPEG Lossless (process 14, SV1)', ['--jpeg'], 16, /JPEGLossless/],
  ['JPEG-LS Lossless', ['--jpegls'], 16, /JPEGLSLossless/],
  ['JPEG 2000 (lossless only)', ['--j2k'], 16, /JPEG2000LosslessOnly/],
  ['Deflated Explicit VR Little Endian', ['--deflated'], 16, /Deflated/],
  ['RLE Lossless, 8-bit', ['--rle'], 8, /RLELossless/],
  ['JPEG 2000, 8-bit', ['--j2k'], 8, /JPEG2000LosslessOnly/],
];

describe('compressed DICOM series', () => {
  for (const [name, flags, bits, syntax] of CASES) {
    it(`${name}: the same intensities as the uncompressed series`, async () => {
      const root = mkdtempSync(join(tmpdir(), 'codec-'));
      series(join(root, 'raw'), bits);
      convert(join(root, 'raw'), join(root, 'packed'), flags);
      // The converted file really is in that syntax (dcmdump from DCMTK, a third reader).
      expect(execFileSync('dcmdump', [join(root, 'packed', 's0.dcm')], { encoding: 'utf8' })).toMatch(syntax);
      const raw = await readDicomSeries(join(root, 'raw'));
      const packed = await readDicomSeries(join(root, 'packed'));
      expect(packed.dims).toEqual(raw.dims);
      expect(Array.from(packed.data)).toEqual(Array.from(raw.data));
    });
  }

  it("JPEG Baseline (8-bit, lossy): within the compression's loss", async () => {
    const root = mkdtempSync(join(tmpdir(), 'codec-'));
    series(join(root, 'raw'), 8);
    convert(join(root, 'raw'), join(root, 'packed'), ['--jpeg', '--lossy', '-q', '95']);
    expect(execFileSync('dcmdump', [join(root, 'packed', 's0.dcm')], { encoding: 'utf8' })).toMatch(/JPEGBaseline/);
    const raw = await readDicomSeries(join(root, 'raw'));
    const packed = await readDicomSeries(join(root, 'packed'));
    let worst = 0;
    raw.data.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - packed.data[i]!));
    });
    expect(worst).toBeLessThan(20);
    // Not a blank image: the two halves (40 and 200 stored) stay apart.
    expect(packed.data[COLS - 1]! - packed.data[0]!).toBeGreaterThan(120);
  });

  it('a syntax no decoder reads (JPEG Extended, 12-bit) is refused by name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'codec-'));
    series(join(root, 'raw'), 16);
    convert(join(root, 'raw'), join(root, 'packed'), ['--jpegls']);
    // Relabel as JPEG Extended (a UID of the same length): encapsulated data no codec here reads.
    for (const name of readdirSync(join(root, 'packed'))) {
      const file = join(root, 'packed', name);
      const bytes = Buffer.from(execFileSync('cat', [file]));
      bytes.write('1.2.840.10008.1.2.4.51', bytes.indexOf('1.2.840.10008.1.2.4.80'), 'latin1');
      writeFileSync(file, bytes);
    }
    await expect(readDicomSeries(join(root, 'packed'))).rejects.toThrow(
      /s0\.dcm: compressed DICOM \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51, JPEG Extended \(Process 2 & 4\)\) is not supported; decompress the series first/,
    );
  });

  it('the synchronous decoder (browsers) refuses compressed frames by name; corrupt frames are named', async () => {
    const root = mkdtempSync(join(tmpdir(), 'codec-'));
    series(join(root, 'raw'), 16);
    convert(join(root, 'raw'), join(root, 'packed'), ['--jpegls']);
    const bytes = new Uint8Array(execFileSync('cat', [join(root, 'packed', 's0.dcm')]));
    expect(() => decodeDicomSlice(bytes, 'ls.dcm')).toThrow(
      /ls\.dcm: compressed DICOM \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.80, JPEG-LS Lossless\) is decoded only by readDicomSeries/,
    );
    // Damage the JPEG-LS stream's start-of-frame marker.
    const at = Buffer.from(bytes).indexOf(Buffer.from([0xff, 0xf7]));
    bytes[at + 1] = 0x00;
    writeFileSync(join(root, 'packed', 's0.dcm'), bytes);
    await expect(readDicomSeries(join(root, 'packed'))).rejects.toThrow(/s0\.dcm: the JPEG-LS Lossless pixel data cannot be decoded/);
  });
});
