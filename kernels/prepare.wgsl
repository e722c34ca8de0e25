// prepare: a volume's voxels as its file stores them → slices in [0, 1] (the first half of the
// preprocessing; the resize to ROI×ROI, where the region is not already that size, is resize.wgsl's
// upsample_bilinear). The voxels go up as the file's own integers, packed into u32 words (four
// 8-bit or two 16-bit values a word, little-endian like the host's typed arrays), so a volume
// crosses to the device in its own bytes, not as float32.
//
// Each output value is voxel (x0 + x, y0 + y, z) of the nx×ny×nz volume, clipped to [lo, lo + span]
// and scaled to [0, 1]: clamp((v − lo) / span, 0, 1), the CT window or MR's [min, 99.5th percentile].

override WG: u32 = 64;

// format: 0 u8, 1 i16, 2 u16, 3 f32 (the bits of an f32 a word).
struct Params { nx: u32, ny: u32, x0: u32, y0: u32, w: u32, h: u32, count: u32, format: u32, lo: f32, span: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> voxels: array<u32>;       // packed [nz][ny][nx]
@group(0) @binding(2) var<storage, read_write> slices: array<f32>; // [nz][h][w]

fn voxel(i: u32) -> f32 {
  switch p.format {
    case 0u: { return f32((voxels[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu); }
    case 1u: {
      // The 16 bits to the word's top, then an arithmetic shift back: the sign extended.
      let bits = (voxels[i >> 1u] >> ((i & 1u) * 16u)) << 16u;
      return f32(bitcast<i32>(bits) >> 16u);
    }
    case 2u: { return f32((voxels[i >> 1u] >> ((i & 1u) * 16u)) & 0xffffu); }
    default: { return bitcast<f32>(voxels[i]); }
  }
}

@compute @workgroup_size(WG)
fn normalise(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.count) { return; }
  let plane = p.w * p.h;
  let z = t / plane;
  let y = (t % plane) / p.w;
  let x = t % p.w;
  let v = voxel((z * p.ny + p.y0 + y) * p.nx + p.x0 + x);
  slices[t] = clamp((v - p.lo) / p.span, 0.0, 1.0);
}
