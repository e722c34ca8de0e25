/**
 * From a volume in its own grid and intensities to ROI slices in [0, 1], and from ROI masks back
 * to the volume's grid. The data under shared/data is already ALPNet-preprocessed (an in-plane
 * size of 256 or 257, intensities windowed or raw MR); raw CT in Hounsfield units and raw MR
 * are handled the same way ALPNet prepares them:
 *  - CT (HU): clip to [−125, 275] and scale to [0, 1]; a 512×512 slice loses 32 px at each
 *    border (→ 448×448) before the resize;
 *  - MR and anything else: scale [min, 99.5th percentile] to [0, 1], clipping the top 0.5 %;
 *  - every slice is resized to 256×256 (bilinear; masks nearest-neighbour).
 * ALPNet's MR resampling to 1.25 mm spacing is not redone: the in-plane resize to 256 stands in.
 *
 * Every volume is first brought into the canonical voxel order (LPS+, see @synpo/io's
 * orientation): the ROI slices, masks and slice indices of a PreparedVolume are canonical, and
 * `roiToVolume` puts masks back in the file's own order.
 */
import { ShapeError } from '@synpo/gpu';
import { prepareSlicesReference, type NormaliseShape } from '@synpo/gpu/kernels';
import { canonicalVolume, fromCanonical, nonFiniteVoxel, toCanonical, type Reorientation, type Volume } from '@synpo/io';
import { PIXELS, ROI } from './backend.ts';

export type IntensityMode = 'auto' | 'ct' | 'mr';

export const CT_WINDOW: readonly [number, number] = [-125, 275];
export const MR_CLIP_PERCENTILE = 99.5;
/** The border ALPNet crops from 512×512 CT slices. */
export const CT_CROP = 32;

export interface PreparedVolume {
  /** The volume as read (its own voxel order and header: what outputs are written against). */
  volume: Volume;
  /** How the file's voxel axes map onto the canonical grid the slices below are cut from. */
  reorientation: Reorientation;
  /** The canonical grid's voxel-to-RAS affine. */
  affine: number[][];
  /** [nz][ROI][ROI], in [0, 1], canonical slices (feet to head). */
  slices: Float32Array;
  /** Canonical slices. */
  nz: number;
  intensity: 'ct' | 'mr';
  /** The in-plane region of the canonical grid that maps onto the ROI: x0, y0, width, height. */
  region: [number, number, number, number];
  /** True when the in-plane size was not already ROI×ROI. */
  resampled: boolean;
  /** The canonical voxels as read and how `slices` were made of them: what the GPU path uploads and prepares on the device. */
  voxels: VolumeVoxels;
}

/**
 * A volume's canonical voxels [nz][ny][nx], as read, with the region, window and size its ROI
 * slices are cut from (prepare.wgsl does on the device what prepareVolume does on the host).
 */
export interface VolumeVoxels {
  data: Float32Array;
  shape: NormaliseShape;
}

/** Canonical slices z0..z1 (inclusive) of a volume's voxels. */
export function voxelSlices(voxels: VolumeVoxels, z0: number, z1: number): VolumeVoxels {
  const plane = voxels.shape.nx * voxels.shape.ny;
  return { data: voxels.data.subarray(z0 * plane, (z1 + 1) * plane), shape: { ...voxels.shape, nz: z1 - z0 + 1 } };
}

/** The value below which `percent` % of a sample of the voxels lie (deterministic). */
export function percentile(data: Float32Array, percent: number): number {
  const step = Math.max(1, Math.floor(data.length / 1_000_000));
  const sample = new Float32Array(Math.ceil(data.length / step));
  for (let i = 0, k = 0; i < data.length; i += step) sample[k++] = data[i]!;
  return kthSmallest(sample, Math.min(sample.length - 1, Math.floor((percent / 100) * (sample.length - 1))));
}

/** The k-th smallest value (0-based), as `sorted[k]` would give it, without sorting (Hoare's selection; reorders `a`). */
function kthSmallest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo < hi) {
    // The median of three as the pivot: sorted or constant runs stay linear.
    const mid = (lo + hi) >>> 1;
    const pivot = Math.max(Math.min(a[lo]!, a[mid]!), Math.min(Math.max(a[lo]!, a[mid]!), a[hi]!));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

/**
 * The smallest voxel value (indexed: an iterator over a whole volume showed in profiles). A NaN or
 * infinite voxel is refused by its place in the file: it would spoil the normalisation and every
 * sum after it, on the host and on the device alike.
 */
function minimum(volume: Volume): number {
  const data = volume.data;
  let min = Infinity;
  let finite = true;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < min) min = v;
    if (v - v !== 0) finite = false; // NaN and ±Infinity
  }
  const bad = finite ? null : nonFiniteVoxel(volume);
  if (bad) {
    throw new ShapeError(
      'prepare',
      `${volume.source}: voxel ${bad.index} (x ${bad.x}, y ${bad.y}, z ${bad.z}) is ${bad.value}; SynPo needs finite intensities (replace NaN and infinite values, e.g. with the background's)`,
    );
  }
  return min;
}

/** Hounsfield units go down to about −1000 (air); MR and windowed data do not go negative. */
function intensityOf(lowest: number): 'ct' | 'mr' {
  return lowest < -200 ? 'ct' : 'mr';
}

export function detectIntensity(volume: Volume): 'ct' | 'mr' {
  return intensityOf(minimum(volume));
}

/**
 * A volume as SynPo segments it: canonical, normalised and resampled to ROI slices, on the host.
 * The resampling runs the bilinear kernel's CPU reference once per volume, so the GPU path gets
 * the very slices the CPU path gets and the volume goes up to the device once, when it is segmented.
 */
export function prepareVolume(file: Volume, mode: IntensityMode = 'auto'): PreparedVolume {
  const { volume, reorientation } = canonicalVolume(file);
  const [nx, ny, nz] = volume.dims;
  // One scan of the file gives the intensity check, MR's lower bound and the finiteness check.
  const lowest = minimum(file);
  const intensity = mode === 'auto' ? intensityOf(lowest) : mode;
  let lo: number;
  let hi: number;
  if (intensity === 'ct') {
    [lo, hi] = CT_WINDOW;
  } else {
    lo = lowest;
    hi = percentile(volume.data, MR_CLIP_PERCENTILE);
  }
  const span = hi > lo ? hi - lo : 1;
  const crop = intensity === 'ct' && nx === 512 && ny === 512 ? CT_CROP : 0;
  const region: [number, number, number, number] = [crop, crop, nx - 2 * crop, ny - 2 * crop];
  const [, , w, h] = region;
  const shape: NormaliseShape = { nx, ny, nz, region, lo, span };
  // What prepare.wgsl does with the same voxels on the device.
  const slices = prepareSlicesReference(volume.data, { ...shape, outH: ROI, outW: ROI });
  const resampled = w !== ROI || h !== ROI;
  return { volume: file, reorientation, affine: volume.affine, slices, nz, intensity, region, resampled, voxels: { data: volume.data, shape } };
}

/**
 * Canonical slice `zc` of a prepared volume as a prepared one-slice volume, for `slice`: that
 * slice of the file cut out with its geometry (io's sliceVolume). Its intensities are the ones
 * the whole volume's normalisation gave, so it is segmented as the whole-volume run segments it.
 */
export function preparedSlice(prepared: PreparedVolume, zc: number, slice: Volume): PreparedVolume {
  if (!Number.isInteger(zc) || zc < 0 || zc >= prepared.nz) throw new ShapeError('slice', `slice ${zc} is outside 0..${prepared.nz - 1}`);
  const { volume: canonical, reorientation } = canonicalVolume(slice);
  const [nx, ny] = reorientation.dims;
  if (nx !== prepared.reorientation.dims[0] || ny !== prepared.reorientation.dims[1]) {
    throw new ShapeError('slice', `${slice.source} is not a slice of ${prepared.volume.source}`);
  }
  return {
    ...prepared,
    volume: slice,
    reorientation,
    affine: canonical.affine,
    slices: prepared.slices.slice(zc * PIXELS, (zc + 1) * PIXELS),
    nz: 1,
    voxels: voxelSlices(prepared.voxels, zc, zc),
  };
}

/** The largest label value a mask volume can hold (NIfTI uint16, and DICOM SEG segment numbers). */
export const MAX_LABEL = 65535;

/** What `labelsToRoi` and `roiToVolume` need of a prepared volume. */
export type RoiGrid = Pick<PreparedVolume, 'region' | 'reorientation'>;

/**
 * A label volume's organ as canonical ROI masks [nz][ROI·ROI], nearest-neighbour onto the same
 * region. The labels share the image's grid, so they are reoriented as the image was.
 */
export function labelsToRoi(file: Volume, grid: RoiGrid, value: number): Uint8Array {
  const r = grid.reorientation;
  if (file.dims.join() !== r.fileDims.join()) {
    throw new ShapeError('labels', `${file.source} is ${file.dims.join('×')}, its image is ${r.fileDims.join('×')}; labels must share the image's grid`);
  }
  const labels = { data: toCanonical(file.data, r), dims: r.dims };
  const [nx, ny, nz] = labels.dims;
  const [x0, y0, w, h] = grid.region;
  // The label column of each ROI column and the label row of each ROI row.
  const xs = Int32Array.from({ length: ROI }, (_, X) => x0 + Math.min(w - 1, Math.floor(((X + 0.5) * w) / ROI)));
  const ys = Int32Array.from({ length: ROI }, (_, Y) => y0 + Math.min(h - 1, Math.floor(((Y + 0.5) * h) / ROI)));
  const out = new Uint8Array(nz * PIXELS);
  for (let z = 0; z < nz; z++) {
    for (let Y = 0; Y < ROI; Y++) {
      const row = (z * ny + ys[Y]!) * nx;
      for (let X = 0; X < ROI; X++) if (labels.data[row + xs[X]!] === value) out[z * PIXELS + Y * ROI + X] = 1;
    }
  }
  return out;
}

/**
 * Canonical ROI masks [nz][ROI·ROI] back onto the file's own grid and voxel order
 * (nearest-neighbour): `value` where a mask is set, or each pixel's own value ('as-is': a label
 * map of several organs), 1…65535. The writers pick uint8 or uint16 storage by the largest value.
 */
export function roiToVolume(masks: Uint8Array | Uint16Array, grid: RoiGrid, value: number | 'as-is' = 1): Uint16Array {
  const r = grid.reorientation;
  const [nx, ny, nz] = r.dims;
  const [x0, y0, w, h] = grid.region;
  let max = 0;
  if (value === 'as-is') for (let i = 0; i < masks.length; i++) max = masks[i]! > max ? masks[i]! : max;
  else max = value;
  if (!Number.isInteger(max) || max < 0 || max > MAX_LABEL) throw new RangeError(`label value ${max} is outside 1..${MAX_LABEL}`);
  // The ROI column of each region column and the ROI row of each region row.
  const Xs = Int32Array.from({ length: w }, (_, x) => Math.min(ROI - 1, Math.floor(((x + 0.5) * ROI) / w)));
  const Ys = Int32Array.from({ length: h }, (_, y) => Math.min(ROI - 1, Math.floor(((y + 0.5) * ROI) / h)));
  const asIs = value === 'as-is';
  const out = new Uint16Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < h; y++) {
      const from = z * PIXELS + Ys[y]! * ROI;
      const to = (z * ny + y + y0) * nx + x0;
      for (let x = 0; x < w; x++) {
        const m = masks[from + Xs[x]!]!;
        if (m) out[to + x] = asIs ? m : value;
      }
    }
  }
  return fromCanonical(out, r);
}
