// guide: a neighbouring slice's mask as a spatial guide for the fused confidence (the optional
// propagation pass along a query volume).
//   pool:     masks [B][H][W] (u32 0/1) → the fraction of set pixels per cell, [B][G][G]
//             (cells of (H/G)×(W/G) pixels); with a second mask (p.both = 1), of the pixels set
//             in both (their overlap: whether a slice's mask agrees with its neighbour's)
//   penalise: per row (one workgroup; N = H·W values), out = synmap − w·(1 − min(1, g / (c·max(g))))
//             where g is the row's (blurred) guide and c the plateau (1: the penalty grows as soon
//             as g falls below its peak; 0.5: not until it falls below half of it); a row whose
//             guide is empty (max ≤ 0) is copied

override WG: u32 = 256;

struct Params { H: u32, W: u32, G: u32, B: u32, w: f32, plateau: f32, both: u32, _c: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> masks: array<u32>;      // pool: [B][H][W]
@group(0) @binding(2) var<storage, read> maps: array<f32>;       // penalise: synmap [B][G·G]
@group(0) @binding(3) var<storage, read> guide: array<f32>;      // penalise: [B][G·G]
@group(0) @binding(4) var<storage, read_write> out: array<f32>;  // [B][G·G]
@group(0) @binding(5) var<storage, read> also: array<u32>;       // pool with both: [B][H][W]

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn pool(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  let cells = p.G * p.G;
  if (t >= p.B * cells) { return; }
  let b = t / cells;
  let cy = (t % cells) / p.G;
  let cx = t % p.G;
  let fy = p.H / p.G;
  let fx = p.W / p.G;
  var n = 0u;
  for (var y = 0u; y < fy; y++) {
    let row = (b * p.H + cy * fy + y) * p.W + cx * fx;
    for (var x = 0u; x < fx; x++) { n += select(0u, 1u, masks[row + x] != 0u && (p.both == 0u || also[row + x] != 0u)); }
  }
  out[t] = f32(n) / f32(fy * fx);
}

@compute @workgroup_size(WG)
fn penalise(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let b = wid.x;
  if (b >= p.B) { return; }
  let N = p.H * p.W;
  let row = b * N;
  var m = 0.0;
  for (var i = lid; i < N; i += WG) { m = max(m, guide[row + i]); }
  partial[lid] = m;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) { partial[lid] = max(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
  }
  let top = workgroupUniformLoad(&partial[0]);
  let cap = top * p.plateau;
  for (var i = lid; i < N; i += WG) {
    out[row + i] = select(maps[row + i], maps[row + i] - p.w * (1.0 - min(1.0, guide[row + i] / cap)), top > 0.0);
  }
}
