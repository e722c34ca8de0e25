import { gzipSync } from 'fflate';
import * as nifti from 'nifti-reader-js';
import { describe, expect, it } from 'vitest';
import { decodeNifti, encodeNiftiMask, ImageFileError, sliceOf } from '../src/index.ts';
import { readBytes, readNifti } from '../src/node.ts';
import { DATA, itWithData } from '../../../test/support/data.ts';

/** A NIfTI-1 file built by hand: dims, datatype, raw voxel bytes, optional scaling. */
function makeNifti(dims: number[], datatype: number, bits: number, voxels: Uint8Array, slope = 1, inter = 0, littleEndian = true): Uint8Array {
  const h = new nifti.NIFTI1();
  h.littleEndian = littleEndian;
  h.dims = [dims.length, ...dims, ...Array(7 - dims.length).fill(1)];
  h.pixDims = [1, 0.5, 0.5, 2, 1, 1, 1, 1];
  h.datatypeCode = datatype;
  h.numBitsPerVoxel = bits;
  h.scl_slope = slope;
  h.scl_inter = inter;
  h.vox_offset = 352;
  h.magic = 'n+1';
  h.sform_code = 1;
  h.affine = [
    [0.5, 0, 0, -10],
    [0, 0.5, 0, 20],
    [0, 0, 2, 5],
    [0, 0, 0, 1],
  ];
  const head = new Uint8Array(h.toArrayBuffer()).subarray(0, 348);
  const out = new Uint8Array(352 + voxels.length);
  out.set(head);
  out.set(voxels, 352);
  return out;
}

describe('NIfTI read', () => {
  itWithData(['chaos-t2'], 'reads a CHAOS T2 volume with its geometry', async () => {
    const v = await readNifti(`${DATA}chaos-t2/image_1.nii.gz`);
    expect(v.dims).toEqual([256, 256, 37]);
    expect(v.spacing.map((s) => +s.toFixed(2))).toEqual([1.25, 1.25, 7.7]);
    expect(v.affine[0]![0]).toBeCloseTo(-1.25);
    expect(sliceOf(v, 36).length).toBe(256 * 256);
    const labels = await readNifti(`${DATA}chaos-t2/label_1.nii.gz`);
    expect(new Set(labels.data)).toEqual(new Set([0, 1, 2, 3, 4]));
  });

  it('applies scl_slope and scl_inter (int16, slope 2, intercept 10)', () => {
    const raw = new Int16Array([-3, 0, 7, 100]);
    const v = decodeNifti(makeNifti([2, 2, 1], 4, 16, new Uint8Array(raw.buffer), 2, 10), 'scaled.nii');
    expect(Array.from(v.data)).toEqual([4, 10, 24, 210]);
  });

  it('reads big-endian float32 and every integer width', () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.5, false);
    new DataView(be.buffer).setFloat32(4, -2, false);
    expect(Array.from(decodeNifti(makeNifti([2, 1, 1], 16, 32, be, 1, 0, false), 'be.nii').data)).toEqual([1.5, -2]);
    for (const [code, bits, ctor] of [
      [2, 8, Uint8Array],
      [256, 8, Int8Array],
      [512, 16, Uint16Array],
      [8, 32, Int32Array],
      [768, 32, Uint32Array],
      [64, 64, Float64Array],
    ] as const) {
      const values = new ctor([1, 2, 3, 4]);
      const v = decodeNifti(makeNifti([2, 2, 1], code, bits, new Uint8Array(values.buffer)), `t${code}.nii`);
      expect(Array.from(v.data)).toEqual([1, 2, 3, 4]);
    }
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['a truncated .nii.gz', () => gzipSync(makeNifti([4, 4, 2], 2, 8, new Uint8Array(32))).subarray(0, 40), /gzip stream is corrupt or truncated/],
    ['truncated voxel data', () => makeNifti([4, 4, 2], 4, 16, new Uint8Array(20)), /image data is truncated: 20 bytes for 32 int16 voxels/],
    ['a PNG file', () => Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(400).fill(0)), /not a NIfTI-1 file/],
    ['a 4-D volume', () => makeNifti([2, 2, 2, 3], 2, 8, new Uint8Array(24)), /is a 4-D volume \(2×2×2×3\)/],
    ['a complex datatype', () => makeNifti([2, 2, 1], 32, 64, new Uint8Array(32)), /datatype 32 is not a scalar type/],
  ];
  for (const [name, bytes, message] of bad) {
    it(`refuses ${name}, naming the file`, () => {
      const error = (() => {
        try {
          decodeNifti(bytes(), '/data/case.nii.gz');
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(error).toBeInstanceOf(ImageFileError);
      expect((error as Error).message).toMatch(/^\/data\/case\.nii\.gz: /);
      expect((error as Error).message).toMatch(message);
    });
  }

  it('a missing file says so', async () => {
    await expect(readBytes('/no/such/volume.nii.gz')).rejects.toThrow(/\/no\/such\/volume.nii.gz: no such file/);
  });
});

describe('NIfTI mask write', () => {
  itWithData(['chaos-t2'], 'keeps the source header and affine, gzipped or not, and round-trips the labels', async () => {
    const source = await readNifti(`${DATA}chaos-t2/image_2.nii.gz`);
    const labels = new Uint8Array(source.data.length);
    for (let i = 0; i < labels.length; i += 97) labels[i] = 1;
    for (const gzip of [true, false]) {
      const back = decodeNifti(encodeNiftiMask(labels, source, gzip), 'mask.nii');
      expect(back.dims).toEqual(source.dims);
      expect(back.affine).toEqual(source.affine);
      expect(back.spacing).toEqual(source.spacing);
      expect(back.data.every((v, i) => v === labels[i])).toBe(true);
      const header = back.header as nifti.NIFTI1;
      expect(header.datatypeCode).toBe(2);
      expect(header.qform_code).toBe((source.header as nifti.NIFTI1).qform_code);
      expect(header.sform_code).toBe((source.header as nifti.NIFTI1).sform_code);
    }
  });

  itWithData(['totalseg'], 'refuses a mask of the wrong size', async () => {
    const source = await readNifti(`${DATA}totalseg/example_mr_sm.nii.gz`);
    expect(() => encodeNiftiMask(new Uint8Array(5), source, true)).toThrow(/mask has 5 voxels/);
  });
});
