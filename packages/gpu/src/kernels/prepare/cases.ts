import { host, kernelCase, randomArray } from '../cases.ts';
import { packVoxels, prepareSlices, type PrepareShape } from './index.ts';

/** Integers drawn in [lo, hi]. */
const randomIntegers = (n: number, seed: number, lo: number, hi: number) => randomArray(n, seed, lo, hi + 1).map(Math.floor);

const volumes: { name: string; values: () => Float32Array; s: PrepareShape }[] = [
  {
    // SABS's uint8 volumes: 257×257 slices resized to 256×256.
    name: 'u8, 257×257 resized to 256×256',
    values: () => randomIntegers(257 * 257 * 2, 60, 0, 255),
    s: { format: 'u8', nx: 257, ny: 257, nz: 2, region: [0, 0, 257, 257], lo: 0, span: 255, outH: 256, outW: 256 },
  },
  {
    // Raw CT: negative Hounsfield units, the window clipping both ends, a border cropped, downsampled.
    name: 'i16 in HU, windowed, cropped and downsampled',
    values: () => randomIntegers(40 * 36 * 3, 61, -1024, 1500),
    s: { format: 'i16', nx: 40, ny: 36, nz: 3, region: [4, 3, 32, 29], lo: -125, span: 400, outH: 16, outW: 16 },
  },
  {
    // An odd voxel count: the last word holds one voxel.
    name: 'u16 above i16, odd voxel count, no resize',
    values: () => randomIntegers(7 * 5 * 3, 62, 0, 60000),
    s: { format: 'u16', nx: 7, ny: 5, nz: 3, region: [1, 0, 5, 5], lo: 12, span: 50000, outH: 5, outW: 5 },
  },
  {
    name: 'f32 (values that are not integers), one voxel',
    values: () => Float32Array.of(0.37),
    s: { format: 'f32', nx: 1, ny: 1, nz: 1, region: [0, 0, 1, 1], lo: 0.1, span: 0.5, outH: 3, outW: 2 },
  },
  {
    // Past the 65,535-workgroup dispatch limit (64 a workgroup).
    name: 'u8, 4.3 M voxels (a 2-D dispatch grid)',
    values: () => randomIntegers(256 * 256 * 66, 63, 0, 200),
    s: { format: 'u8', nx: 256, ny: 256, nz: 66, region: [0, 0, 256, 256], lo: 3, span: 190, outH: 256, outW: 256 },
  },
];

export const cases = volumes.map(({ name, values, s }) =>
  kernelCase({
    kernel: prepareSlices,
    name,
    inputs: () => {
      const packed = packVoxels(values());
      // The case's format must be the one a volume of these values goes up in.
      if (packed.format !== s.format) throw new Error(`${name}: the values pack as ${packed.format}, not ${s.format}`);
      return { voxels: host('u32', [packed.words.length], packed.words) };
    },
    params: s,
    // The clip and scale match the reference exactly on lavapipe; the bilinear resize within an ulp or so.
    tolerance: { atol: 1e-6, rtol: 1e-6 },
  }),
);
