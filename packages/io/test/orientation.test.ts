import { describe, expect, it } from 'vitest';
import { canonicalAffine, canonicalVolume, fromCanonical, reorientation, toCanonical, worldOf, type Volume } from '../src/index.ts';
import { readNifti } from '../src/node.ts';
import { DATA, itWithData } from '../../../test/support/data.ts';

/** A volume whose voxel value is its index, with this affine. */
function indexed(dims: [number, number, number], affine: number[][]): Volume {
  const n = dims[0] * dims[1] * dims[2];
  return { data: Float32Array.from({ length: n }, (_, i) => i), dims, spacing: [1, 1, 1], affine, source: 'indexed' };
}

const LPS = [
  [-1, 0, 0, 0],
  [0, -1, 0, 0],
  [0, 0, 1, 0],
  [0, 0, 0, 1],
];

describe('orientation', () => {
  itWithData(['chaos-t2', 'sabs-ct'], 'names the axes of the shared data as nibabel would, and finds LPS+ canonical', async () => {
    const chaos = await readNifti(`${DATA}chaos-t2/image_1.nii.gz`);
    expect(reorientation(chaos.affine, chaos.dims).fileCode).toBe('LAS');
    const sabs = await readNifti(`${DATA}sabs-ct/image_0.nii.gz`);
    const r = reorientation(sabs.affine, sabs.dims);
    expect(r.fileCode).toBe('LPS');
    expect(r.identity).toBe(true);
  });

  it('every voxel keeps its world position through canonicalisation (flips and a permutation)', () => {
    // A sagittal-like storage: voxel x runs superior, y anterior, z right, with an oblique tilt.
    const affine = [
      [0.02, 0, 2.5, -40],
      [0, 1.2, 0, 10],
      [1.1, 0, -0.01, 7],
      [0, 0, 0, 1],
    ];
    const v = indexed([5, 4, 3], affine);
    const r = reorientation(v.affine, v.dims);
    expect(r.fileCode).toBe('SAR');
    expect(r.axes).toEqual([2, 1, 0]);
    expect(r.flip).toEqual([true, true, false]);
    const { volume: c } = canonicalVolume(v);
    expect(c.dims).toEqual([3, 4, 5]);
    const [nx, ny] = c.dims;
    for (let k = 0; k < c.data.length; k++) {
      const ijk = [k % nx, Math.floor(k / nx) % ny, Math.floor(k / (nx * ny))];
      const f = c.data[k]!;
      const fileIjk = [f % 5, Math.floor(f / 5) % 4, Math.floor(f / 20)];
      const a = worldOf(c.affine, ijk);
      const b = worldOf(affine, fileIjk);
      a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 9));
    }
    // And back to the file's order exactly.
    expect(Array.from(fromCanonical(c.data, r))).toEqual(Array.from(v.data));
  });

  it('a canonical volume is left alone; its canonical affine is its own', () => {
    const v = indexed([3, 2, 2], LPS);
    const { volume, reorientation: r } = canonicalVolume(v);
    expect(r.identity).toBe(true);
    expect(volume.data).toBe(v.data);
    expect(canonicalAffine(LPS, r)).toEqual(LPS);
  });

  it('RAS and LPS storage of the same voxels give the same canonical array', () => {
    const lps = indexed(
      [4, 3, 2],
      [
        [-1, 0, 0, 3],
        [0, -1, 0, 2],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    );
    // The same world grid stored with x and y reversed (RAS): file voxel (i, j) is LPS voxel (3 − i, 2 − j).
    const ras = {
      ...lps,
      data: new Float32Array(lps.data.length),
      affine: [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, 1, 0],
        [0, 0, 0, 1],
      ],
    };
    for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) ras.data[i + 4 * (j + 3 * k)] = lps.data[3 - i + 4 * (2 - j + 3 * k)]!;
    expect(Array.from(canonicalVolume(ras).volume.data)).toEqual(Array.from(lps.data));
    expect(canonicalVolume(ras).volume.affine).toEqual(lps.affine);
  });

  it('a single slice keeps its slice axis, and a degenerate affine changes nothing', () => {
    const sagittalSlice = reorientation(
      [
        [0, 0, 1, 0],
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
      ],
      [4, 4, 1],
    );
    expect(sagittalSlice.axes[2]).toBe(2);
    expect(
      reorientation(
        [
          [0, 0, 0, 0],
          [0, 1, 0, 0],
          [0, 0, 1, 0],
          [0, 0, 0, 1],
        ],
        [2, 2, 2],
      ).identity,
    ).toBe(true);
  });

  it('toCanonical keeps the array type (uint8 and uint16 masks)', () => {
    const r = reorientation(
      [
        [1, 0, 0, 0],
        [0, 1, 0, 0],
        [0, 0, -1, 0],
        [0, 0, 0, 1],
      ],
      [2, 1, 2],
    );
    const out = toCanonical(Uint16Array.of(1, 2, 300, 4), r);
    expect(out).toBeInstanceOf(Uint16Array);
    // x flipped (R → L), z flipped (I → S).
    expect(Array.from(out)).toEqual([4, 300, 2, 1]);
  });
});
