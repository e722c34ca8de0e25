// kmeans: Lloyd's algorithm for B independent sets of 2-D points (PSM clusters the top-ranked
// cells into the positive prompts and the band's candidates into the negative ones), one
// workgroup per set, seeding and every round in one dispatch: no readback between rounds.
//
// Seeding: the host's centres (seeding = 0), or seeded k-means++ on the GPU (seeding = 1) from
// the row's draws: 24-bit integers u, r = u / 2^24, exact in f32, and every choice made with f32
// arithmetic in a fixed order, so the CPU reference (kmeansPlusPlus) makes the same choices.
// Rounds: assign every point to its nearest live centre (ties to the lower index); stop when no
// assignment changed or after max_iter updates; else move each live centre to its points' mean.
// A centre left without points is dropped (it takes no further points). All reductions run in a
// fixed order: the result is deterministic.

override WG: u32 = 64;

struct Params { Nmax: u32, K: u32, B: u32, max_iter: u32, seeding: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> points: array<vec2f>;           // [B][Nmax]
@group(0) @binding(2) var<storage, read> counts: array<u32>;             // [B] points per row
@group(0) @binding(3) var<storage, read> draws: array<u32>;              // [B][K] (seeding 1)
@group(0) @binding(4) var<storage, read_write> centroids: array<vec2f>;  // [B][K]
@group(0) @binding(5) var<storage, read_write> assign: array<u32>;       // [B][Nmax]
@group(0) @binding(6) var<storage, read_write> sizes: array<u32>;        // [B][K]: live flags, then final sizes
@group(0) @binding(7) var<storage, read_write> state: array<u32>;        // [B][2]: updates, centres seeded

const NONE: u32 = 0xffffffffu;
override DRAW_RANGE: f32; // DRAW_RANGE (kmeans/reference.ts): draws are 24-bit integers

var<workgroup> w_sum: array<vec2f, WG>;
var<workgroup> w_cnt: array<u32, WG>;
var<workgroup> w_changed: atomic<u32>;
var<workgroup> w_flag: u32;

fn dist2(a: vec2f, b: vec2f) -> f32 {
  let d = a - b;
  return d.x * d.x + d.y * d.y;
}

// k-means++ by one invocation; D² kept in `assign` as f32 bits until the rounds start.
fn seed_row(b: u32, n: u32) -> u32 {
  let base = b * p.Nmax;
  let r0 = f32(draws[b * p.K]) / DRAW_RANGE;
  let first = min(n - 1u, u32(floor(r0 * f32(n))));
  centroids[b * p.K] = points[base + first];
  for (var i = 0u; i < n; i++) { assign[base + i] = bitcast<u32>(dist2(points[base + i], points[base + first])); }
  var seeded = 1u;
  loop {
    if (seeded >= p.K) { break; }
    var total = 0.0;
    for (var i = 0u; i < n; i++) { total += bitcast<f32>(assign[base + i]); }
    if (total == 0.0) { break; }
    let threshold = (f32(draws[b * p.K + seeded]) / DRAW_RANGE) * total;
    var pick = NONE;
    var cum = 0.0;
    for (var i = 0u; i < n; i++) {
      let d = bitcast<f32>(assign[base + i]);
      if (d == 0.0) { continue; }
      pick = i; // the last candidate also absorbs rounding at the end of the sum
      cum += d;
      if (cum > threshold) { break; }
    }
    let c = points[base + pick];
    centroids[b * p.K + seeded] = c;
    for (var i = 0u; i < n; i++) {
      assign[base + i] = bitcast<u32>(min(bitcast<f32>(assign[base + i]), dist2(points[base + i], c)));
    }
    seeded++;
  }
  return seeded;
}

@compute @workgroup_size(WG)
fn solve(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let base = b * p.Nmax;
  let n = counts[b];
  if (lid == 0u) {
    var seeded = 0u;
    if (p.seeding == 1u) {
      if (n > 0u) { seeded = seed_row(b, n); }
    } else {
      // Host seeds: the live slots are flagged in `sizes` already.
      for (var k = 0u; k < p.K; k++) { seeded += select(0u, 1u, sizes[b * p.K + k] != 0u); }
    }
    if (p.seeding == 1u) {
      for (var k = 0u; k < p.K; k++) { sizes[b * p.K + k] = select(0u, 1u, k < seeded); }
    }
    for (var i = 0u; i < n; i++) { assign[base + i] = NONE; }
    state[2u * b + 1u] = seeded;
  }
  storageBarrier();
  workgroupBarrier();

  var updates = 0u;
  loop {
    if (lid == 0u) { atomicStore(&w_changed, 0u); }
    workgroupBarrier();
    for (var i = lid; i < n; i += WG) {
      let x = points[base + i];
      var best = NONE;
      var best_d = 0.0;
      for (var k = 0u; k < p.K; k++) {
        if (sizes[b * p.K + k] == 0u) { continue; }
        let d = dist2(x, centroids[b * p.K + k]);
        if (best == NONE || d < best_d) { best = k; best_d = d; }
      }
      if (assign[base + i] != best) {
        assign[base + i] = best;
        atomicAdd(&w_changed, 1u);
      }
    }
    storageBarrier();
    workgroupBarrier();
    if (lid == 0u) { w_flag = atomicLoad(&w_changed); }
    let changed = workgroupUniformLoad(&w_flag);
    if (changed == 0u || updates >= p.max_iter) { break; }
    updates++;
    for (var k = 0u; k < p.K; k++) {
      var s = vec2f(0.0);
      var c = 0u;
      for (var i = lid; i < n; i += WG) {
        if (assign[base + i] == k) { s += points[base + i]; c += 1u; }
      }
      w_sum[lid] = s;
      w_cnt[lid] = c;
      workgroupBarrier();
      for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
        if (lid < stride) { w_sum[lid] += w_sum[lid + stride]; w_cnt[lid] += w_cnt[lid + stride]; }
        workgroupBarrier();
      }
      if (lid == 0u && sizes[b * p.K + k] != 0u) {
        if (w_cnt[0] == 0u) { sizes[b * p.K + k] = 0u; } else { centroids[b * p.K + k] = w_sum[0] / f32(w_cnt[0]); }
      }
      storageBarrier();
      workgroupBarrier();
    }
  }

  // Final sizes from the final assignment (a live centre may have lost its last point).
  for (var k = 0u; k < p.K; k++) {
    var c = 0u;
    for (var i = lid; i < n; i += WG) { c += select(0u, 1u, assign[base + i] == k); }
    w_cnt[lid] = c;
    workgroupBarrier();
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      if (lid < stride) { w_cnt[lid] += w_cnt[lid + stride]; }
      workgroupBarrier();
    }
    if (lid == 0u) { sizes[b * p.K + k] = w_cnt[0]; }
    workgroupBarrier();
  }
  if (lid == 0u) { state[2u * b] = updates; }
}
