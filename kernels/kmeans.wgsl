// kmeans: Lloyd iterations for B independent sets of 2-D points (PSM clusters the top-ranked
// positive coordinates and the band's negative candidates into Kp / Kn prompt points).
// The host seeds the centroids (k-means++, seeded) and records rounds of
//   assign → finish → update
// in one submission; `finish` marks a row done when no assignment changed or the iteration
// cap is reached, and every later round returns early for that row, so the GPU iterates to
// convergence without a readback per iteration. A cluster that ends an update with no points
// is dropped (alive = 0) and takes no further points. All reductions run in a fixed order, so
// the result is deterministic.

override WG: u32 = 64;

struct Params { Nmax: u32, K: u32, B: u32, max_iter: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> points: array<vec2f>;        // [B][Nmax]
@group(0) @binding(2) var<storage, read> counts: array<u32>;          // [B] points per row
@group(0) @binding(3) var<storage, read_write> centroids: array<vec2f>; // [B][K]
@group(0) @binding(4) var<storage, read_write> assign: array<u32>;    // [B][Nmax], 0xffffffff at start
@group(0) @binding(5) var<storage, read_write> alive: array<u32>;     // [B][K], 1 at start
@group(0) @binding(6) var<storage, read_write> state: array<atomic<u32>>; // [B][4]: done, changed, iterations, -

const NONE: u32 = 0xffffffffu;

@compute @workgroup_size(WG)
fn assign_points(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let b = wid.y;
  let i = gid.x;
  if (i >= counts[b] || atomicLoad(&state[b * 4u]) != 0u) { return; }
  let x = points[b * p.Nmax + i];
  var best = NONE;
  var best_d = 0.0;
  for (var k = 0u; k < p.K; k++) {
    if (alive[b * p.K + k] == 0u) { continue; }
    let d = x - centroids[b * p.K + k];
    let dd = dot(d, d);
    if (best == NONE || dd < best_d) { best = k; best_d = dd; }
  }
  if (assign[b * p.Nmax + i] != best) {
    assign[b * p.Nmax + i] = best;
    atomicAdd(&state[b * 4u + 1u], 1u);
  }
}

@compute @workgroup_size(1)
fn finish(@builtin(workgroup_id) wid: vec3u) {
  let b = wid.x;
  if (atomicLoad(&state[b * 4u]) != 0u) { return; }
  let iterations = atomicLoad(&state[b * 4u + 2u]);
  if (atomicLoad(&state[b * 4u + 1u]) == 0u || iterations >= p.max_iter) {
    atomicStore(&state[b * 4u], 1u);
  } else {
    atomicStore(&state[b * 4u + 2u], iterations + 1u);
  }
  atomicStore(&state[b * 4u + 1u], 0u);
}

var<workgroup> w_sum: array<vec2f, WG>;
var<workgroup> w_cnt: array<u32, WG>;

// One workgroup per (cluster, row): the mean of the cluster's points, reduced in a fixed order.
@compute @workgroup_size(WG)
fn update_centroids(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = wid.x;
  let b = wid.y;
  // No early return: every invocation must reach the barriers below.
  let live = atomicLoad(&state[b * 4u]) == 0u && alive[b * p.K + k] != 0u;
  var s = vec2f(0.0);
  var n = 0u;
  let count = select(0u, counts[b], live);
  for (var i = lid; i < count; i += WG) {
    if (assign[b * p.Nmax + i] == k) {
      s += points[b * p.Nmax + i];
      n += 1u;
    }
  }
  w_sum[lid] = s;
  w_cnt[lid] = n;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      w_sum[lid] += w_sum[lid + stride];
      w_cnt[lid] += w_cnt[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u && live) {
    if (w_cnt[0] == 0u) {
      alive[b * p.K + k] = 0u;
    } else {
      centroids[b * p.K + k] = w_sum[0] / f32(w_cnt[0]);
    }
  }
}
