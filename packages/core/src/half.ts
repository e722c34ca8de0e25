/**
 * IEEE 754 half precision (float16) on the host: ONNX exports in fp16 take and give float16
 * tensors, and SynPo converts at those edges; the benchmark packs features two to a u32.
 */

/** f32 bits → f16 bits, round to nearest even (what pack2x16float computes for normal values). */
export function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const e = ((x >>> 23) & 0xff) - 112;
  let m = x & 0x7fffff;
  if (e >= 31) return sign | (((x >>> 23) & 0xff) === 0xff && m ? 0x7e00 : 0x7c00);
  if (e <= 0) {
    if (e < -10) return sign;
    m |= 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function halfToFloat(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const v = e === 0 ? m * 2 ** -24 : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * 2 ** (e - 15);
  return h & 0x8000 ? -v : v;
}

/** f32 values packed two to a u32 as f16 (low half first), as WGSL's unpack2x16float reads them. */
export function packHalf(values: Float32Array): Uint32Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint32Array(Math.ceil(values.length / 2));
  for (let i = 0, j = 0; i < values.length; i += 2, j++) out[j] = halfBits(bits[i]!) | ((i + 1 < values.length ? halfBits(bits[i + 1]!) : 0) << 16);
  return out;
}

/** float32 values → float16 bits. */
export function toHalf(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = halfBits(bits[i]!);
  return out;
}

/** float16 bits → float32 values. */
export function fromHalf(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  return out;
}
