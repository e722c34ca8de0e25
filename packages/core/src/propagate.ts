/**
 * The optional propagation pass along a query volume (PropagationOptions): after each slice of an
 * organ's range was segmented on its own, the slices are segmented again one after another,
 * outward in both directions from the slice with the largest mask, each guided by the mask its
 * already-propagated neighbour got (the fused confidence lowered away from it, and the decoder
 * prompted with it). No query labels are used. On by default; `propagation.enabled: false` is the
 * paper's protocol, each slice judged alone.
 */
import { PIXELS } from './backend.ts';
import type { SliceName, SupportEncoding, Synpo } from './synpo.ts';

export interface PropagationSlice {
  /** The slice's mask from the first pass; replaced in place by the propagated one. */
  final: Uint8Array;
  /** The support it is segmented against (its third's). */
  support: SupportEncoding;
  /** Its name (seed and cache key), as in the first pass. */
  name: SliceName;
}

const area = (mask: Uint8Array) => mask.reduce((a, v) => a + (v ? 1 : 0), 0);

/**
 * Propagates through `items` (canonical slice index → slice) of one organ; `slices` are the
 * volume's canonical ROI slices ([nz][ROI·ROI]). Returns how many slices were segmented again.
 * A neighbour with an empty mask guides nothing: the slice keeps its first-pass mask.
 */
export async function propagate(synpo: Synpo, slices: Float32Array, items: ReadonlyMap<number, PropagationSlice>): Promise<number> {
  if (items.size < 2) return 0;
  let anchor = -1;
  let best = -1;
  for (const [z, item] of [...items].sort(([a], [b]) => a - b)) {
    const n = area(item.final);
    if (n > best) [anchor, best] = [z, n];
  }
  if (best <= 0) return 0;
  let redone = 0;
  for (const step of [1, -1]) {
    for (let z = anchor + step; items.has(z); z += step) {
      const guide = items.get(z - step)!.final;
      if (!guide.some((v) => v)) continue;
      const item = items.get(z)!;
      const [result] = await synpo.segment(item.support, slices.subarray(z * PIXELS, (z + 1) * PIXELS), 1, [item.name], { guides: [guide] });
      item.final.set(result!.final);
      redone++;
    }
  }
  return redone;
}
