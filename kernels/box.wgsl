// box: the weight-free decoder's prompt rows, built on the device from PSM's k-means centres, so
// no point has to visit the host between point selection and the decoder. Per row b:
//   out[b][0]      the walk's box (x0, x1, y0, y1 in ROI pixels; x0 > x1: no positives): the
//                  positives' box, grown to `extent_factor` × the row's support-organ extent
//                  around the positives' mean, then by `margin` + `margin_factor` × their spread;
//   out[b][1 + k]  Kn negatives, then Kp positives: (x, y, label, valid) at the centre of the grid
//                  cell each centre rounds to (all 0 where a cluster is empty). Negatives come
//                  first because the seeds are painted in order and a positive must win a pixel.

override WG: u32 = 64;

struct Params {
  B: u32, Kp: u32, Kn: u32, has_extent: u32,
  cell: f32, margin: f32, margin_factor: f32, extent_factor: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pos_centres: array<vec2f>; // [B][Kp] in grid cells
@group(0) @binding(2) var<storage, read> pos_sizes: array<u32>;     // [B][Kp]
@group(0) @binding(3) var<storage, read> neg_centres: array<vec2f>; // [B][Kn] (a dummy when Kn = 0)
@group(0) @binding(4) var<storage, read> neg_sizes: array<u32>;     // [B][Kn]
@group(0) @binding(5) var<storage, read> extents: array<vec2f>;     // [B] support organ width, height
@group(0) @binding(6) var<storage, read_write> out: array<vec4f>;   // [B][1 + Kn + Kp]

// Round half up (as the host's Math.round), exactly: c − floor(c) is exact in f32 for c ≥ 0.
fn round_up(c: f32) -> f32 {
  let f = floor(c);
  return select(f, f + 1.0, c - f >= 0.5);
}

fn cell_centre(c: vec2f) -> vec2f {
  return vec2f(round_up(c.x), round_up(c.y)) * p.cell + p.cell / 2.0;
}

@compute @workgroup_size(WG)
fn rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = gid.x + gid.y * nwg.x * WG;
  if (b >= p.B) { return; }
  let row = b * (1u + p.Kn + p.Kp);
  for (var k = 0u; k < p.Kn; k++) {
    let live = neg_sizes[b * p.Kn + k] > 0u;
    let q = select(vec2f(0.0), cell_centre(neg_centres[b * p.Kn + k]), live);
    out[row + 1u + k] = vec4f(q, 0.0, select(0.0, 1.0, live));
  }
  var lo = vec2f(3.4e38);
  var hi = vec2f(-3.4e38);
  var sum = vec2f(0.0);
  var n = 0u;
  for (var k = 0u; k < p.Kp; k++) {
    let live = pos_sizes[b * p.Kp + k] > 0u;
    let q = select(vec2f(0.0), cell_centre(pos_centres[b * p.Kp + k]), live);
    let flag = select(0.0, 1.0, live);
    out[row + 1u + p.Kn + k] = vec4f(q, flag, flag);
    if (live) {
      lo = min(lo, q);
      hi = max(hi, q);
      sum += q;
      n++;
    }
  }
  if (n == 0u) {
    out[row] = vec4f(1.0, 0.0, 0.0, 0.0);
    return;
  }
  let m = p.margin + p.margin_factor * (hi - lo);
  if (p.has_extent == 1u && p.extent_factor > 0.0) {
    let centre = sum / f32(n);
    let half = p.extent_factor * extents[b] / 2.0;
    lo = min(lo, centre - half);
    hi = max(hi, centre + half);
  }
  out[row] = vec4f(lo.x - m.x, hi.x + m.x, lo.y - m.y, hi.y + m.y);
}
