// gaussian: separable Gaussian blur of B maps (the weight-free encoders' multi-scale local
// statistics). blur_x then blur_y, each a (2r + 1)-tap kernel w(d) = exp(−d²/2σ²) normalised
// to sum 1, edges clamped (replicate).

override WG: u32 = 64;

struct Params { H: u32, W: u32, B: u32, radius: u32, sigma: f32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // [B][H][W]
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // [B][H][W]

fn weight(d: i32) -> f32 {
  return exp(-f32(d * d) / (2.0 * p.sigma * p.sigma));
}

fn norm() -> f32 {
  var s = 0.0;
  let r = i32(p.radius);
  for (var d = -r; d <= r; d++) { s += weight(d); }
  return s;
}

fn blur(t: u32, horizontal: bool) {
  let plane = p.H * p.W;
  let b = t / plane;
  let y = i32((t % plane) / p.W);
  let x = i32(t % p.W);
  let r = i32(p.radius);
  var acc = 0.0;
  for (var d = -r; d <= r; d++) {
    var yy = y;
    var xx = x;
    if (horizontal) { xx = clamp(x + d, 0, i32(p.W) - 1); } else { yy = clamp(y + d, 0, i32(p.H) - 1); }
    acc += weight(d) * src[b * plane + u32(yy) * p.W + u32(xx)];
  }
  dst[t] = acc / norm();
}

@compute @workgroup_size(WG)
fn blur_x(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.H * p.W) { return; }
  blur(t, true);
}

@compute @workgroup_size(WG)
fn blur_y(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.H * p.W) { return; }
  blur(t, false);
}
