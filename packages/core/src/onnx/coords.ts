/**
 * Coordinates between the three spaces a prompt point lives in: the query slice's own pixels,
 * the 256×256 ROI SynPo works in, and the square input of SAM's encoder (1024 px). Points are
 * continuous pixel coordinates (x to the right, y down; a pixel's centre is at index + 0.5).
 * SAM normalises a point by the image size and scales it to its input side, so the ROI → SAM map
 * is a pure scale; the ROI covers the slice region (x0, y0, w, h) of preprocessing.
 */
import { ROI } from '../backend.ts';

export interface Point2 {
  x: number;
  y: number;
}

export type Region = readonly [number, number, number, number];

export const roiToSam = (p: Point2, side = 1024): Point2 => ({ x: (p.x * side) / ROI, y: (p.y * side) / ROI });
export const samToRoi = (p: Point2, side = 1024): Point2 => ({ x: (p.x * ROI) / side, y: (p.y * ROI) / side });
export const roiToSlice = (p: Point2, [x0, y0, w, h]: Region): Point2 => ({ x: x0 + (p.x * w) / ROI, y: y0 + (p.y * h) / ROI });
export const sliceToRoi = (p: Point2, [x0, y0, w, h]: Region): Point2 => ({ x: ((p.x - x0) * ROI) / w, y: ((p.y - y0) * ROI) / h });
export const sliceToSam = (p: Point2, region: Region, side = 1024): Point2 => roiToSam(sliceToRoi(p, region), side);
export const samToSlice = (p: Point2, region: Region, side = 1024): Point2 => roiToSlice(samToRoi(p, side), region);

/**
 * SAM's low-resolution mask logits (side/4 square, 256 for a 1024 input) cover the same field of
 * view as the ROI; resampled (nearest) onto the ROI grid and thresholded at 0.
 */
export function samMaskToRoi(logits: Float32Array, maskSide: number): Uint8Array {
  const out = new Uint8Array(ROI * ROI);
  for (let y = 0; y < ROI; y++) {
    const sy = Math.min(maskSide - 1, Math.floor(((y + 0.5) * maskSide) / ROI));
    for (let x = 0; x < ROI; x++) {
      const sx = Math.min(maskSide - 1, Math.floor(((x + 0.5) * maskSide) / ROI));
      out[y * ROI + x] = logits[sy * maskSide + sx]! > 0 ? 1 : 0;
    }
  }
  return out;
}

/** A ROI mask as a SAM mask prompt (logits ±`strength` on a maskSide² grid, area-averaged). */
export function roiMaskToSamPrompt(mask: Uint8Array, maskSide: number, strength = 20): Float32Array {
  const out = new Float32Array(maskSide * maskSide);
  const counts = new Float32Array(maskSide * maskSide);
  for (let y = 0; y < ROI; y++) {
    for (let x = 0; x < ROI; x++) {
      const i = Math.floor((y * maskSide) / ROI) * maskSide + Math.floor((x * maskSide) / ROI);
      out[i]! += mask[y * ROI + x]!;
      counts[i]!++;
    }
  }
  return out.map((v, i) => (v / counts[i]! >= 0.5 ? strength : -strength));
}
