// synergy: SynMap = δSD·(a ⊙ b) + δS·a + δD·b, the Hadamard fusion of the two encoders'
// confidence maps (CMSM). Elementwise over any number of values.

override WG: u32 = 64;

struct Params { count: u32, d_sd: f32, d_s: f32, d_d: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.count) { return; }
  let x = a[i];
  let y = b[i];
  out[i] = p.d_sd * (x * y) + p.d_s * x + p.d_d * y;
}
