// morphology: binary erosion or dilation of B masks with a square or disc structuring element of
// radius r (NRM's opening is an erosion then a dilation). Outside the image counts as
// background (scipy's border_value = 0), so erosion also peels objects that touch the border.

override WG: u32 = 64;

struct Params { H: u32, W: u32, B: u32, r: u32, disc: u32, dilate: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<u32>;        // [B][H][W]
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;  // [B][H][W]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let plane = p.H * p.W;
  if (t >= p.B * plane) { return; }
  let b = t / plane;
  let y = i32((t % plane) / p.W);
  let x = i32(t % p.W);
  let r = i32(p.r);
  // Erosion: every element pixel set; dilation: any element pixel set.
  let want = select(0u, 1u, p.dilate == 0u);
  var result = want;
  for (var dy = -r; dy <= r && result == want; dy++) {
    for (var dx = -r; dx <= r; dx++) {
      if (p.disc != 0u && dx * dx + dy * dy > r * r) { continue; }
      let yy = y + dy;
      let xx = x + dx;
      var v = 0u;
      if (yy >= 0 && yy < i32(p.H) && xx >= 0 && xx < i32(p.W)) {
        v = select(0u, 1u, src[b * plane + u32(yy) * p.W + u32(xx)] != 0u);
      }
      if (v != want) { result = v; break; }
    }
  }
  dst[t] = result;
}
