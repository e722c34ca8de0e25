/**
 * Uniform packing by WGSL's layout rules, written once. Every kernel's `Params` struct is a flat
 * list of 4-byte scalars (u32 / i32 / f32), so each field takes 4 bytes in declaration order and
 * the struct is padded to a multiple of 16 bytes (uniform address space rounding).
 */
export type WgslScalar = 'u32' | 'i32' | 'f32';
export type UniformField = readonly [WgslScalar, number];

export function packUniforms(fields: readonly UniformField[]): ArrayBuffer {
  const bytes = Math.max(16, Math.ceil((fields.length * 4) / 16) * 16);
  const buffer = new ArrayBuffer(bytes);
  const view = new DataView(buffer);
  fields.forEach(([type, value], i) => {
    if (type === 'f32') view.setFloat32(i * 4, value, true);
    else if (type === 'i32') view.setInt32(i * 4, value, true);
    else {
      if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
        throw new RangeError(`uniform field ${i} must be a u32, got ${value}`);
      }
      view.setUint32(i * 4, value, true);
    }
  });
  return buffer;
}

export const u32 = (value: number): UniformField => ['u32', value];
export const i32 = (value: number): UniformField => ['i32', value];
export const f32 = (value: number): UniformField => ['f32', value];
