/**
 * CPU references of kernels/prepare.wgsl, and the packing of a volume's voxels into the words it
 * reads: a volume goes up to the device in the narrowest of these formats that holds every voxel
 * exactly (the file's own integers; float32 where they are not integers).
 */
import { length, positiveInt, ShapeError, type Values } from '../../shapes.ts';
import { upsampleBilinearReference } from '../resize/reference.ts';

export type VoxelFormat = 'u8' | 'i16' | 'u16' | 'f32';

/** The format's code in prepare.wgsl, and its voxels a u32 word. */
export const VOXEL_FORMATS: Readonly<Record<VoxelFormat, { code: number; perWord: number }>> = {
  u8: { code: 0, perWord: 4 },
  i16: { code: 1, perWord: 2 },
  u16: { code: 2, perWord: 2 },
  f32: { code: 3, perWord: 1 },
};

/** Voxels packed into u32 words, voxel i at byte i·(4 / perWord) of the words' buffer. */
export interface PackedVoxels {
  format: VoxelFormat;
  words: Uint32Array;
  /** Voxels packed (the last word may hold fewer than perWord). */
  count: number;
}

/** Of an nx×ny×nz volume (x fastest), the in-plane region x0, y0, w, h cut from every slice, clipped to [lo, lo + span] and scaled to [0, 1]. */
export interface NormaliseShape {
  nx: number;
  ny: number;
  nz: number;
  region: readonly [number, number, number, number];
  lo: number;
  span: number;
}

/** NormaliseShape, the voxels' format, and the size each slice is resized to (bilinear). */
export interface PrepareShape extends NormaliseShape {
  format: VoxelFormat;
  outH: number;
  outW: number;
}

/** Voxels as the narrowest format that holds each exactly: u8, i16 or u16 for integers in their range, f32 otherwise. */
export function voxelFormat(values: ArrayLike<number>): VoxelFormat {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v)) return 'f32';
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min >= 0 && max <= 0xff) return 'u8';
  if (min >= -0x8000 && max <= 0x7fff) return 'i16';
  if (min >= 0 && max <= 0xffff) return 'u16';
  return 'f32';
}

const VIEWS = { u8: Uint8Array, i16: Int16Array, u16: Uint16Array, f32: Float32Array } as const;

/** The voxels of `words` as their format's typed array (a view, no copy). */
export function voxelView(packed: PackedVoxels): Uint8Array | Int16Array | Uint16Array | Float32Array {
  // A Uint32Array's buffer: not shared, and its offset a multiple of every format's size.
  return new VIEWS[packed.format](packed.words.buffer as ArrayBuffer, packed.words.byteOffset, packed.count);
}

/** Packs voxels into u32 words in `format` (voxelFormat's by default); the values must fit it. */
export function packVoxels(values: ArrayLike<number>, format: VoxelFormat = voxelFormat(values)): PackedVoxels {
  const count = values.length;
  const packed: PackedVoxels = { format, words: new Uint32Array(Math.ceil(count / VOXEL_FORMATS[format].perWord)), count };
  voxelView(packed).set(values);
  return packed;
}

export function validateNormalise(kernel: string, s: NormaliseShape): void {
  for (const name of ['nx', 'ny', 'nz'] as const) positiveInt(kernel, name, s[name]);
  const [x0, y0, w, h] = s.region;
  positiveInt(kernel, 'region width', w);
  positiveInt(kernel, 'region height', h);
  if (!Number.isInteger(x0) || !Number.isInteger(y0) || x0 < 0 || y0 < 0 || x0 + w > s.nx || y0 + h > s.ny) {
    throw new ShapeError(kernel, `region ${s.region.join(', ')} (x0, y0, width, height) is not inside ${s.nx}×${s.ny} slices`);
  }
  if (!Number.isFinite(s.lo) || !(s.span > 0) || !Number.isFinite(s.span))
    throw new ShapeError(kernel, `lo ${s.lo} and span ${s.span} must be finite, the span above 0`);
}

export function validatePrepare(voxels: Values, s: PrepareShape): void {
  validateNormalise('prepare', s);
  if (!(s.format in VOXEL_FORMATS)) throw new ShapeError('prepare', `format ${s.format} is none of ${Object.keys(VOXEL_FORMATS).join(', ')}`);
  positiveInt('prepare', 'outH', s.outH);
  positiveInt('prepare', 'outW', s.outW);
  length('prepare', 'voxels (u32 words)', voxels, Math.ceil((s.nx * s.ny * s.nz) / VOXEL_FORMATS[s.format].perWord));
}

/** [nz][h][w]: each voxel of the region clamp((v − lo) / span, 0, 1), in double precision, stored as f32. */
export function normaliseReference(values: ArrayLike<number>, s: NormaliseShape): Float32Array {
  validateNormalise('normalise', s);
  const { nx, ny, nz, lo, span } = s;
  const [x0, y0, w, h] = s.region;
  const out = new Float32Array(nz * w * h);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < h; y++) {
      const from = (z * ny + y + y0) * nx + x0;
      const to = (z * h + y) * w;
      for (let x = 0; x < w; x++) out[to + x] = Math.min(1, Math.max(0, (values[from + x]! - lo) / span));
    }
  }
  return out;
}

/**
 * [nz][outH·outW]: the region normalised, then resized (bilinear) where it is not outH×outW
 * already. The voxels as values (a packed volume's voxelView): core's prepareVolume runs it on the
 * file's voxels as they were read.
 */
export function prepareSlicesReference(values: ArrayLike<number>, s: NormaliseShape & Pick<PrepareShape, 'outH' | 'outW'>): Float32Array {
  const region = normaliseReference(values, s);
  const [, , w, h] = s.region;
  return w === s.outW && h === s.outH ? region : upsampleBilinearReference(region, { B: s.nz, inH: h, inW: w, outH: s.outH, outW: s.outW });
}
