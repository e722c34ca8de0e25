/** Host-side conversions for uploads: masks travel to the GPU as one u32 per cell. */
export function maskToU32(mask: Uint8Array): Uint32Array {
  return Uint32Array.from(mask);
}

export function u32ToMask(values: Uint32Array): Uint8Array {
  return Uint8Array.from(values, (v) => (v !== 0 ? 1 : 0));
}

/** Row-major indices of the set cells of a mask. */
export function maskIndices(mask: Uint8Array): Uint32Array {
  let n = 0;
  for (const m of mask) if (m) n++;
  const out = new Uint32Array(n);
  let k = 0;
  mask.forEach((m, i) => {
    if (m) out[k++] = i;
  });
  return out;
}
