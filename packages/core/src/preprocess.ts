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
 */
import type { Kernels } from '@synpo/gpu';
import type { Volume } from '@synpo/io';
import { PIXELS, ROI } from './backend.ts';

export type IntensityMode = 'auto' | 'ct' | 'mr';

export const CT_WINDOW: readonly [number, number] = [-125, 275];
export const MR_CLIP_PERCENTILE = 99.5;
/** The border ALPNet crops from 512×512 CT slices. */
export const CT_CROP = 32;

export interface PreparedVolume {
  volume: Volume;
  /** [nz][ROI][ROI], in [0, 1]. */
  slices: Float32Array;
  nz: number;
  intensity: 'ct' | 'mr';
  /** The in-plane region of the volume that maps onto the ROI: x0, y0, width, height. */
  region: [number, number, number, number];
  /** True when the in-plane size was not already ROI×ROI. */
  resampled: boolean;
}

/** The value below which `percent` % of a sample of the voxels lie (deterministic). */
export function percentile(data: Float32Array, percent: number): number {
  const step = Math.max(1, Math.floor(data.length / 1_000_000));
  const sample = new Float32Array(Math.ceil(data.length / step));
  for (let i = 0, k = 0; i < data.length; i += step) sample[k++] = data[i]!;
  sample.sort();
  return sample[Math.min(sample.length - 1, Math.floor((percent / 100) * (sample.length - 1)))]!;
}

export function detectIntensity(volume: Volume): 'ct' | 'mr' {
  let min = Infinity;
  for (const v of volume.data) if (v < min) min = v;
  // Hounsfield units go down to about −1000 (air); MR and windowed data do not go negative.
  return min < -200 ? 'ct' : 'mr';
}

export async function prepareVolume(volume: Volume, kernels: Kernels, mode: IntensityMode = 'auto'): Promise<PreparedVolume> {
  const [nx, ny, nz] = volume.dims;
  const intensity = mode === 'auto' ? detectIntensity(volume) : mode;
  let lo: number;
  let hi: number;
  if (intensity === 'ct') {
    [lo, hi] = CT_WINDOW;
  } else {
    lo = Infinity;
    for (const v of volume.data) if (v < lo) lo = v;
    hi = percentile(volume.data, MR_CLIP_PERCENTILE);
  }
  const span = hi > lo ? hi - lo : 1;
  const crop = intensity === 'ct' && nx === 512 && ny === 512 ? CT_CROP : 0;
  const region: [number, number, number, number] = [crop, crop, nx - 2 * crop, ny - 2 * crop];
  const [x0, y0, w, h] = region;
  const cropped = new Float32Array(nz * w * h);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = volume.data[(z * ny + y + y0) * nx + x + x0]!;
        cropped[(z * h + y) * w + x] = Math.min(1, Math.max(0, (v - lo) / span));
      }
    }
  }
  const resampled = w !== ROI || h !== ROI;
  const slices = resampled ? await kernels.upsampleBilinear(cropped, { B: nz, inH: h, inW: w, outH: ROI, outW: ROI }) : cropped;
  return { volume, slices, nz, intensity, region, resampled };
}

/** A label volume's organ as ROI masks [nz][ROI·ROI], nearest-neighbour onto the same region. */
export function labelsToRoi(labels: Volume, region: PreparedVolume['region'], value: number): Uint8Array {
  const [nx, ny, nz] = labels.dims;
  const [x0, y0, w, h] = region;
  const out = new Uint8Array(nz * PIXELS);
  for (let z = 0; z < nz; z++) {
    for (let Y = 0; Y < ROI; Y++) {
      const y = y0 + Math.min(h - 1, Math.floor(((Y + 0.5) * h) / ROI));
      for (let X = 0; X < ROI; X++) {
        const x = x0 + Math.min(w - 1, Math.floor(((X + 0.5) * w) / ROI));
        if (labels.data[(z * ny + y) * nx + x] === value) out[z * PIXELS + Y * ROI + X] = 1;
      }
    }
  }
  return out;
}

/**
 * ROI masks [nz][ROI·ROI] back onto the volume's grid (nearest-neighbour), as a uint8 volume:
 * `value` where a mask is set, or each pixel's own value ('as-is': a label map of several organs).
 */
export function roiToVolume(masks: Uint8Array, prepared: PreparedVolume, value: number | 'as-is' = 1): Uint8Array {
  const [nx, ny, nz] = prepared.volume.dims;
  const [x0, y0, w, h] = prepared.region;
  const out = new Uint8Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < h; y++) {
      const Y = Math.min(ROI - 1, Math.floor(((y + 0.5) * ROI) / h));
      for (let x = 0; x < w; x++) {
        const X = Math.min(ROI - 1, Math.floor(((x + 0.5) * ROI) / w));
        const m = masks[z * PIXELS + Y * ROI + X]!;
        if (m) out[(z * ny + y + y0) * nx + x + x0] = value === 'as-is' ? m : value;
      }
    }
  }
  return out;
}
