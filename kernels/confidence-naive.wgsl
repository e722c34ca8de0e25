// confidence-naive: the paper's literal form, S(x) = (1/n) Σ_i cos(F_Q(x), T_i), one cosine per
// (query cell, support foreground cell) pair. O(n·C) per cell against confidence.wgsl's O(C):
// it is the exactness reference and the benchmark baseline, never the hot path.
// The query grids have N cells, the support grid Ns (the same size in SynPo; the benchmark
// times a subset of query cells to keep the literal form affordable).

override WG: u32 = 64;
override EPS: f32; // NORM_EPS (shapes.ts): v / max(‖v‖, eps)

struct Params { C: u32, N: u32, B: u32, n: u32, Ns: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> query: array<f32>;     // [B][C][N]
@group(0) @binding(2) var<storage, read> support: array<f32>;   // [C][Ns]
@group(0) @binding(3) var<storage, read> fg: array<u32>;        // [n] support foreground cells
@group(0) @binding(4) var<storage, read_write> sup_inv: array<f32>; // [n] 1/‖T_i‖
@group(0) @binding(5) var<storage, read_write> conf: array<f32>;    // [B][N]

@compute @workgroup_size(WG)
fn support_norms(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.x;
  if (k >= p.n) { return; }
  let cell = fg[k];
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let f = support[c * p.Ns + cell];
    ss += f * f;
  }
  sup_inv[k] = 1.0 / max(sqrt(ss), EPS);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.N) { return; }
  let b = t / p.N;
  let i = t % p.N;
  let base = b * p.C * p.N + i;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let f = query[base + c * p.N];
    ss += f * f;
  }
  let q_inv = 1.0 / max(sqrt(ss), EPS);
  var acc = 0.0;
  for (var k = 0u; k < p.n; k++) {
    let cell = fg[k];
    var dot = 0.0;
    for (var c = 0u; c < p.C; c++) {
      dot += query[base + c * p.N] * support[c * p.Ns + cell];
    }
    acc += dot * q_inv * sup_inv[k];
  }
  conf[t] = acc / f32(p.n);
}
