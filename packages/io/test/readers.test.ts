/** Readers that refuse what they cannot read, and read correctly what they accept. */
import dcmjs from 'dcmjs';
import { gzipSync } from 'fflate';
import { encode as encodePngRaw } from 'fast-png';
import * as nifti from 'nifti-reader-js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc32, decodeImage2D, decodeNifti, encodeNiftiMask, ImageFileError, sliceVolume, worldOf, type DicomSeriesInfo } from '../src/index.ts';
import { readBytes, readDicomSeries, readNifti } from '../src/node.ts';
import { DATA, itWithData } from '../../../test/support/data.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'readers-'));

function niftiBytes(opts: { voxOffset?: number; magic?: string; sform?: number[][]; sformCode?: number; qformCode?: number } = {}): Uint8Array {
  const h = new nifti.NIFTI1();
  h.littleEndian = true;
  h.dims = [3, 2, 2, 2, 1, 1, 1, 1];
  h.pixDims = [1, 1, 1, 3, 1, 1, 1, 1];
  h.datatypeCode = 2;
  h.numBitsPerVoxel = 8;
  h.scl_slope = 1;
  h.vox_offset = opts.voxOffset ?? 352;
  h.magic = opts.magic ?? 'n+1';
  h.sform_code = opts.sformCode ?? 1;
  h.qform_code = opts.qformCode ?? 0;
  h.qoffset_x = 5;
  h.affine = opts.sform ?? [
    [2, 0, 0, -10],
    [0, 2, 0, 20],
    [0, 0, 3, 5],
    [0, 0, 0, 1],
  ];
  const out = new Uint8Array(352 + 8);
  out.set(new Uint8Array(h.toArrayBuffer()).subarray(0, 348));
  out.set([1, 2, 3, 4, 5, 6, 7, 8], 352);
  return out;
}

const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  return null;
};

describe('NIfTI reader', () => {
  const bad: [string, () => Uint8Array, RegExp][] = [
    ['vox_offset inside the header', () => niftiBytes({ voxOffset: 100 }), /vox_offset 100 is inside the header/],
    ['vox_offset past the end', () => niftiBytes({ voxOffset: 4000 }), /vox_offset 4000 is past the end of the file/],
    ['a .hdr of a .hdr/.img pair', () => niftiBytes({ magic: 'ni1' }), /\.hdr\/\.img pair/],
    ['an empty file', () => new Uint8Array(0), /is empty \(0 bytes\)/],
    [
      'a gzip stream with a bad CRC',
      () => {
        const z = gzipSync(niftiBytes());
        z[z.length - 6] = z[z.length - 6]! ^ 0xff;
        return z;
      },
      /CRC-32 [0-9a-f]{8} of the data does not match/,
    ],
    [
      'a gzip stream whose data was altered',
      () => {
        const z = gzipSync(niftiBytes(), { level: 0 });
        z[200] = z[200]! ^ 0x01;
        return z;
      },
      /gzip stream is corrupt/,
    ],
  ];
  for (const [name, bytes, message] of bad) {
    it(`refuses ${name}, naming the file`, () => {
      const error = errorOf(() => decodeNifti(bytes(), '/in/case.nii.gz'));
      expect(error).toBeInstanceOf(ImageFileError);
      expect(error!.message).toMatch(/^\/in\/case\.nii\.gz: /);
      expect(error!.message).toMatch(message);
    });
  }

  it('readNifti inflates a file with zlib: the volume decodeNifti gives, and damaged streams refused in the same words', async () => {
    const dir = tmp();
    const good = gzipSync(niftiBytes());
    writeFileSync(join(dir, 'good.nii.gz'), good);
    const read = await readNifti(join(dir, 'good.nii.gz'));
    const decoded = decodeNifti(good, 'good.nii.gz');
    expect(Array.from(read.data)).toEqual(Array.from(decoded.data));
    expect(read.dims).toEqual(decoded.dims);
    const damaged = [
      ...bad.filter(([name]) => name.startsWith('a gzip')),
      ['a truncated gzip stream', () => good.subarray(0, good.length - 30), /gzip stream is corrupt or truncated/] as const,
    ];
    expect(damaged.length).toBe(3);
    for (const [name, bytes, message] of damaged) {
      const file = join(dir, `${name.replaceAll(' ', '-')}.nii.gz`);
      writeFileSync(file, bytes());
      const error = await readNifti(file).then(
        () => null,
        (e: Error) => e,
      );
      expect(error, name).toBeInstanceOf(ImageFileError);
      expect(error!.message, name).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
      expect(error!.message, name).toMatch(message);
    }
  });

  it("our CRC-32 matches gzip's", () => {
    const dir = tmp();
    writeFileSync(join(dir, 'x'), 'The quick brown fox');
    execFileSync('gzip', ['-n', join(dir, 'x')]);
    const z = new Uint8Array(execFileSync('cat', [join(dir, 'x.gz')]));
    expect(crc32(new TextEncoder().encode('The quick brown fox'))).toBe(new DataView(z.buffer, z.byteOffset).getUint32(z.length - 8, true));
  });

  it('uses the sform when its code is set, else the qform, and writes both back as stored', () => {
    const v = decodeNifti(niftiBytes({ sformCode: 1, qformCode: 2 }), 'both.nii');
    expect(v.affine[0]).toEqual([2, 0, 0, -10]);
    const q = decodeNifti(niftiBytes({ sformCode: 0, qformCode: 1 }), 'q.nii');
    expect(q.affine[0]![3]).toBe(5);
    const back = decodeNifti(encodeNiftiMask(new Uint8Array(8), v, false), 'mask.nii');
    expect(back.affine).toEqual(v.affine);
    const h = back.header as nifti.NIFTI1;
    expect([h.sform_code, h.qform_code, h.qoffset_x]).toEqual([1, 2, 5]);
  });

  it('writes uint16 when a label is above 255, uint8 otherwise', () => {
    const v = decodeNifti(niftiBytes(), 'v.nii');
    const wide = decodeNifti(encodeNiftiMask(Uint16Array.of(0, 1, 300, 65535, 0, 0, 0, 2), v, true), 'wide.nii.gz');
    expect((wide.header as nifti.NIFTI1).datatypeCode).toBe(512);
    expect(Array.from(wide.data)).toEqual([0, 1, 300, 65535, 0, 0, 0, 2]);
    const narrow = decodeNifti(encodeNiftiMask(Uint16Array.of(0, 1, 255, 0, 0, 0, 0, 2), v, true), 'narrow.nii.gz');
    expect((narrow.header as nifti.NIFTI1).datatypeCode).toBe(2);
  });

  it('the same mask gives the same bytes (no time in the gzip header)', () => {
    const v = decodeNifti(niftiBytes(), 'v.nii');
    const a = encodeNiftiMask(new Uint8Array(8).fill(1), v, true);
    const b = encodeNiftiMask(new Uint8Array(8).fill(1), v, true);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Array.from(a.subarray(4, 8))).toEqual([0, 0, 0, 0]);
  });

  itWithData(['chaos-t2'], 'a slice of a volume keeps its place: affine, qform and sform moved to it (CHAOS image_2, slice 20)', async () => {
    const v = await readNifti(`${DATA}chaos-t2/image_2.nii.gz`);
    const s = sliceVolume(v, 20);
    expect(s.dims).toEqual([256, 256, 1]);
    const world = worldOf(v.affine, [10, 30, 20]);
    worldOf(s.affine, [10, 30, 0]).forEach((x, i) => expect(x).toBeCloseTo(world[i]!, 3));
    const written = decodeNifti(encodeNiftiMask(new Uint8Array(256 * 256), s, true), 'slice.nii.gz');
    worldOf(written.affine, [10, 30, 0]).forEach((x, i) => expect(x).toBeCloseTo(world[i]!, 3));
    const h = written.header as nifti.NIFTI1;
    const q = h.getQformMat();
    const qWorld = [0, 1, 2].map((r) => q[r]![0]! * 10 + q[r]![1]! * 30 + q[r]![3]!);
    const vq = (v.header as nifti.NIFTI1).getQformMat();
    qWorld.forEach((x, r) => expect(x).toBeCloseTo(vq[r]![0]! * 10 + vq[r]![1]! * 30 + vq[r]![2]! * 20 + vq[r]![3]!, 3));
    expect(written.affine[2]![3]).toBeCloseTo(103.1, 0);
  });
});

describe('files that are not regular', () => {
  it('refuses a FIFO before reading it (no hang), an empty file and a folder, by name', async () => {
    const dir = tmp();
    execFileSync('mkfifo', [join(dir, 'pipe.nii')]);
    await expect(readBytes(join(dir, 'pipe.nii'))).rejects.toThrow(/pipe\.nii: is a FIFO \(named pipe\), not a regular file/);
    writeFileSync(join(dir, 'empty.nii'), '');
    await expect(readBytes(join(dir, 'empty.nii'))).rejects.toThrow(/empty\.nii: is empty \(0 bytes\)/);
    await expect(readBytes(dir)).rejects.toThrow(/is a folder, not a regular file/);
    await expect(readBytes('/dev/null')).rejects.toThrow(/\/dev\/null: is a character device/);
  });
});

describe('PNG reader', () => {
  it('looks palette images up in their palette (an inverted palette reads the right way round)', () => {
    // Index 0 is white, index 1 black: the indices alone would invert the image.
    const png = encodePngRaw({
      width: 4,
      height: 1,
      data: Uint8Array.of(0, 1, 1, 0),
      depth: 8,
      channels: 1,
      palette: [
        [255, 255, 255],
        [0, 0, 0],
      ],
    });
    expect(Array.from(decodeImage2D(png, 'p.png').data)).toEqual([255, 0, 0, 255]);
    // A 1-bit palette mask: bits 0110, palette [black, red].
    const mask = encodePngRaw({
      width: 4,
      height: 1,
      data: Uint8Array.of(0b01100000),
      depth: 1,
      channels: 1,
      palette: [
        [0, 0, 0],
        [255, 0, 0],
      ],
    });
    expect(Array.from(decodeImage2D(mask, 'm.png').data).map((v) => Math.round(v))).toEqual([0, 76, 76, 0]);
  });

  it('unpacks 1-, 2- and 4-bit grey to 0…255, rows starting on a byte', () => {
    const one = encodePngRaw({ width: 10, height: 2, data: Uint8Array.of(0b10101010, 0b11000000, 0b00000000, 0b01000000), depth: 1, channels: 1 });
    expect(Array.from(decodeImage2D(one, '1.png').data)).toEqual([255, 0, 255, 0, 255, 0, 255, 0, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255]);
    const two = encodePngRaw({ width: 3, height: 1, data: Uint8Array.of(0b11100100), depth: 2, channels: 1 });
    expect(Array.from(decodeImage2D(two, '2.png').data)).toEqual([255, 170, 85]);
    const four = encodePngRaw({ width: 3, height: 1, data: Uint8Array.of(0xf7, 0x00), depth: 4, channels: 1 });
    expect(Array.from(decodeImage2D(four, '4.png').data)).toEqual([255, 119, 0]);
  });

  it('refuses a damaged chunk (CRC) and an empty file, by name', () => {
    const png = encodePngRaw({ width: 3, height: 1, data: Uint8Array.of(1, 2, 3), depth: 8, channels: 1 });
    png[png.length - 20] = png[png.length - 20]! ^ 0xff;
    expect(() => decodeImage2D(png, 'bad.png')).toThrow(/bad\.png: corrupt or truncated PNG \(CRC mismatch/);
    expect(() => decodeImage2D(new Uint8Array(0), 'zero.png')).toThrow(/zero\.png: is empty/);
  });
});

interface SliceSpec {
  z: number;
  instance: number;
  series?: string;
  number?: number;
  rows?: number;
  photometric?: string;
  position?: boolean;
  fill?: number;
}

/** A single-frame CT slice written by dcmjs (a fixture; the reader is dicom-parser). */
function dicomSlice(spec: SliceSpec): Uint8Array {
  const rows = spec.rows ?? 2;
  const cols = 2;
  const pixels = new Uint16Array(rows * cols).map((_, i) => (spec.fill ?? 100) + i);
  const ds: Record<string, unknown> = {
    _meta: {
      TransferSyntaxUID: '1.2.840.10008.1.2.1',
      MediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
      MediaStorageSOPInstanceUID: `1.2.3.${spec.instance}`,
      ImplementationClassUID: '1.2.3',
    },
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: `1.2.3.${spec.instance}`,
    Modality: 'CT',
    StudyInstanceUID: '1.2.3.100',
    SeriesInstanceUID: spec.series ?? '1.2.3.200',
    SeriesNumber: spec.number ?? 1,
    SeriesDescription: `series ${spec.number ?? 1}`,
    FrameOfReferenceUID: '1.2.3.300',
    PatientName: 'Test^Patient',
    PatientID: 'P1',
    Rows: rows,
    Columns: cols,
    BitsAllocated: 16,
    BitsStored: 16,
    HighBit: 15,
    PixelRepresentation: 0,
    SamplesPerPixel: 1,
    PhotometricInterpretation: spec.photometric ?? 'MONOCHROME2',
    PixelSpacing: [0.5, 0.5],
    ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
    InstanceNumber: spec.instance,
    SliceThickness: 2,
    PixelData: pixels.buffer,
  };
  if (spec.position !== false) ds.ImagePositionPatient = [0, 0, spec.z];
  return new Uint8Array(dcmjs.data.datasetToBuffer(ds));
}

function folder(slices: SliceSpec[]): string {
  const dir = tmp();
  slices.forEach((s, i) => writeFileSync(join(dir, `im${i}.dcm`), dicomSlice(s)));
  return dir;
}

describe('DICOM series as series', () => {
  it('lists the series of a folder that holds two, and reads the one picked by UID', async () => {
    const dir = folder([
      { z: 0, instance: 1 },
      { z: 2, instance: 2 },
      { z: 0, instance: 3, series: '1.2.3.201', number: 2 },
      { z: 2, instance: 4, series: '1.2.3.201', number: 2 },
      { z: 4, instance: 5, series: '1.2.3.201', number: 2 },
    ]);
    await expect(readDicomSeries(dir)).rejects.toThrow(
      /holds 2 series; pick one with --series UID:\n  1\.2\.3\.200: series 1 "series 1", 2 slices of 2×2\n  1\.2\.3\.201: series 2 "series 2", 3 slices of 2×2/,
    );
    const v = await readDicomSeries(dir, { series: '1.2.3.201' });
    expect(v.dims).toEqual([2, 2, 3]);
    const info = v.header as DicomSeriesInfo;
    expect(info.seriesInstanceUid).toBe('1.2.3.201');
    expect(info.instances.map((i) => i.sopInstanceUid)).toEqual(['1.2.3.3', '1.2.3.4', '1.2.3.5']);
    await expect(readDicomSeries(dir, { series: '9.9' })).rejects.toThrow(/has no series 9\.9; it holds:/);
  });

  const bad: [string, SliceSpec[], RegExp][] = [
    [
      'two slices at one position',
      [
        { z: 0, instance: 1 },
        { z: 2, instance: 2 },
        { z: 2, instance: 3 },
      ],
      /two slices at one position \(0\\0\\2\): .*im1\.dcm and .*im2\.dcm/,
    ],
    [
      'a missing slice',
      [
        { z: 0, instance: 1 },
        { z: 2, instance: 2 },
        { z: 4, instance: 3 },
        { z: 8, instance: 4 },
      ],
      /about 1 slice\(s\) missing: 4\.00 mm between .*im2\.dcm and .*im3\.dcm, the series' spacing is 2\.00 mm/,
    ],
    [
      'irregular spacing',
      [
        { z: 0, instance: 1 },
        { z: 2, instance: 2 },
        { z: 4, instance: 3 },
        { z: 5, instance: 4 },
      ],
      /irregular spacing: 1\.00 mm/,
    ],
    [
      'slices of mixed sizes',
      [
        { z: 0, instance: 1 },
        { z: 2, instance: 2, rows: 3 },
      ],
      /im1\.dcm: is 2×3, the series' first slice .*im0\.dcm is 2×2/,
    ],
  ];
  for (const [name, slices, message] of bad) {
    it(`refuses ${name}, naming the files`, async () => {
      await expect(readDicomSeries(folder(slices))).rejects.toThrow(message);
    });
  }

  it("inverts MONOCHROME1 within the series' range", async () => {
    const v = await readDicomSeries(
      folder([
        { z: 0, instance: 1, photometric: 'MONOCHROME1', fill: 100 },
        { z: 2, instance: 2, photometric: 'MONOCHROME1', fill: 200 },
      ]),
    );
    // Stored 100…103 and 200…203: inverted as 303 − v.
    expect(Array.from(v.data)).toEqual([203, 202, 201, 200, 103, 102, 101, 100]);
  });

  it('orders by InstanceNumber with a warning when positions are missing', async () => {
    const v = await readDicomSeries(
      folder([
        { z: 0, instance: 2, position: false, fill: 200 },
        { z: 0, instance: 1, position: false, fill: 100 },
      ]),
    );
    expect(v.data[0]).toBe(100);
    expect(v.warnings?.join()).toMatch(/without ImagePositionPatient; ordered by InstanceNumber/);
  });

  it('skips subfolders and FIFOs in a series folder instead of reading them', async () => {
    const dir = folder([
      { z: 0, instance: 1 },
      { z: 2, instance: 2 },
    ]);
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    execFileSync('mkdir', [join(dir, 'sub')]);
    expect((await readDicomSeries(dir)).dims).toEqual([2, 2, 2]);
    await expect(readDicomSeries(join(dir, 'missing'))).rejects.toThrow(/missing: no such folder/);
  });
});
