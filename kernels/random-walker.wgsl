// random-walker: Grady's random walker with priors (the weight-free promptable decoder), solved
// by Jacobi-preconditioned conjugate gradients for B slices at once. For every unseeded pixel i:
//   (d_i + γ)·x_i − Σ_{j unseeded} w_ij·x_j = γ·p_i + Σ_{j foreground seed} w_ij,
// w_ij = exp(−scale·(I_i − I_j)²) + 1e-6 on the 4-connected grid (scale = β / (10·std(I)), one
// per slice), seeds fixed at 1 / 0. The CG scalars live on the GPU: `reduce` turns per-block
// partial sums into α, β and a per-slice done flag, so iterations need no readback; a slice that
// has converged skips every later update.
//
// The edge scale comes from the moments kernel's std of each slice (copied into `partial` first):
// `scale` sets it and zeroes the other scalars, so the whole solve is recorded on the device.
// `clamp` bounds x to [0, 1], the probability the decoder thresholds.
//
// vec holds 10 planes of B·H·W floats: x, r, z, p, q, diag, rhs, right weights, down weights, and
// a second p: an iteration's A·p pass makes p = z + β·p from the previous p (in one p plane,
// `mode` says which) into the other, so p needs no pass of its own.
// scal holds 8 floats per slice: rz, iterations, alpha, beta, ‖b‖², ‖r‖², done, scale.

override WG: u32 = 256;
override SEED_NONE: u32; // seed codes (random-walker/reference.ts)
override SEED_FOREGROUND: u32;

struct Params { H: u32, W: u32, B: u32, blocks: u32, gamma: f32, tol2: f32, mode: u32, beta: f32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;   // [B][H·W]
@group(0) @binding(2) var<storage, read> seeds: array<u32>;   // [B][H·W]: 0 none, 1 fg, 2 bg
@group(0) @binding(3) var<storage, read> prior: array<f32>;   // [B][H·W]
@group(0) @binding(4) var<storage, read_write> vec: array<f32>;
@group(0) @binding(5) var<storage, read_write> scal: array<f32>;     // [B][8]
@group(0) @binding(6) var<storage, read_write> partial: array<f32>;  // [B][blocks][2], then [B][blocks] unseeded counts

const X = 0u; const R = 1u; const Z = 2u; const P = 3u; const Q = 4u; const DIAG = 5u; const RHS = 6u; const WR = 7u; const WD = 8u; const P2 = 9u;
// Iteration k (mode = k mod 2) reads the previous p from one plane and writes the new p to the other.
fn p_old() -> u32 { return select(P, P2, p.mode == 1u); }
fn p_new() -> u32 { return select(P2, P, p.mode == 1u); }

fn at(plane: u32, t: u32) -> u32 { return plane * p.B * p.H * p.W + t; }
fn total() -> u32 { return p.B * p.H * p.W; }
fn slice_of(t: u32) -> u32 { return t / (p.H * p.W); }
fn is_free(t: u32) -> bool { return seeds[t] == SEED_NONE; }
fn done(b: u32) -> bool { return scal[8u * b + 6u] != 0.0; }
// Where `setup` leaves each block's count of unseeded pixels, after the partial sums.
fn free_count_at(b: u32, block: u32) -> u32 { return 2u * p.B * p.blocks + b * p.blocks + block; }

var<workgroup> red_a: array<f32, WG>;
var<workgroup> red_b: array<f32, WG>;
var<workgroup> w_done: u32;

// Whether slice b has converged, as a value every invocation of the workgroup agrees on (so a
// converged slice's workgroups can leave before their barriers: finished slices cost nothing).
fn slice_done_uniform(b: u32, lid: u32) -> bool {
  if (lid == 0u) { w_done = select(0u, 1u, done(b)); }
  return workgroupUniformLoad(&w_done) == 1u;
}

// The same, true also for a block with no unseeded pixel (most of a walk bounded to a box): its
// partial sums are 0 from `residual` on, so it leaves its slots as they are and skips its barriers.
fn block_idle_uniform(b: u32, block: u32, lid: u32) -> bool {
  if (lid == 0u) { w_done = select(0u, 1u, done(b) || partial[free_count_at(b, block)] == 0.0); }
  return workgroupUniformLoad(&w_done) == 1u;
}

// Sums (a, b) over the workgroup; the result is lid 0's. Every invocation must call it. LANES
// invocations each add WG / LANES values, then one adds theirs: two barriers where a tree takes
// log2(WG) (a CPU Vulkan driver pays for each barrier; a GPU hardly minds).
const LANES = 16u;
var<workgroup> red_lanes: array<vec2f, LANES>;
fn workgroup_sum(a: f32, b: f32, lid: u32) -> vec2f {
  red_a[lid] = a;
  red_b[lid] = b;
  workgroupBarrier();
  if (lid < LANES) {
    let n = WG / LANES;
    var s = vec2f(0.0);
    for (var k = lid * n; k < (lid + 1u) * n; k++) { s += vec2f(red_a[k], red_b[k]); }
    red_lanes[lid] = s;
  }
  workgroupBarrier();
  var s = vec2f(0.0);
  if (lid == 0u) {
    for (var k = 0u; k < LANES; k++) { s += red_lanes[k]; }
  }
  return s;
}

// Sums (a, b) over the workgroup into partial[slice][block]; returns them (in lid 0).
fn block_sum(a: f32, b: f32, lid: u32, slice: u32, block: u32) -> vec2f {
  let s = workgroup_sum(a, b, lid);
  if (lid == 0u) {
    partial[2u * (slice * p.blocks + block)] = s.x;
    partial[2u * (slice * p.blocks + block) + 1u] = s.y;
  }
  return s;
}

// Workgroups tile one slice: workgroup (block, slice) covers pixels block·WG … of that slice.
fn pixel(wid: vec3u, lid: u32) -> u32 { return wid.y * p.H * p.W + wid.x * WG + lid; }
fn in_slice(wid: vec3u, lid: u32) -> bool { return wid.x * WG + lid < p.H * p.W; }

@compute @workgroup_size(WG)
fn edges(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (!in_slice(wid, lid)) { return; }
  let t = pixel(wid, lid);
  let i = t % (p.H * p.W);
  let scale = scal[8u * wid.y + 7u];
  var right = 0.0;
  var down = 0.0;
  if (i % p.W + 1u < p.W) { let d = image[t] - image[t + 1u]; right = exp(-scale * d * d) + 1e-6; }
  if (i + p.W < p.H * p.W) { let d = image[t] - image[t + p.W]; down = exp(-scale * d * d) + 1e-6; }
  vec[at(WR, t)] = right;
  vec[at(WD, t)] = down;
}

// Weights to the four neighbours of pixel t (0 past the border).
fn neighbour_weights(t: u32) -> vec4f {
  let i = t % (p.H * p.W);
  let x = i % p.W;
  return vec4f(
    select(0.0, vec[at(WR, t - 1u)], x > 0u),
    vec[at(WR, t)],
    select(0.0, vec[at(WD, t - p.W)], i >= p.W),
    vec[at(WD, t)],
  );
}

fn fg(t: u32) -> f32 { return select(0.0, 1.0, seeds[t] == SEED_FOREGROUND); }
fn free_value(plane: u32, t: u32) -> f32 { return select(0.0, vec[at(plane, t)], is_free(t)); }

// diag, rhs, and x = prior (seeds: their value); partial ‖b‖².
@compute @workgroup_size(WG)
fn setup(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var b2 = 0.0;
  if (in_slice(wid, lid)) {
    let t = pixel(wid, lid);
    let i = t % (p.H * p.W);
    let x = i % p.W;
    if (is_free(t)) {
      let w = neighbour_weights(t);
      var rhs = p.gamma * prior[t];
      if (x > 0u) { rhs += w.x * fg(t - 1u); }
      if (x + 1u < p.W) { rhs += w.y * fg(t + 1u); }
      if (i >= p.W) { rhs += w.z * fg(t - p.W); }
      if (i + p.W < p.H * p.W) { rhs += w.w * fg(t + p.W); }
      vec[at(DIAG, t)] = p.gamma + w.x + w.y + w.z + w.w;
      vec[at(RHS, t)] = rhs;
      vec[at(X, t)] = prior[t];
      b2 = rhs * rhs;
    } else {
      vec[at(DIAG, t)] = 1.0;
      vec[at(RHS, t)] = 0.0;
      vec[at(X, t)] = fg(t);
    }
  }
  let free = select(0.0, 1.0, in_slice(wid, lid) && is_free(pixel(wid, lid)));
  let sums = block_sum(b2, free, lid, wid.y, wid.x);
  if (lid == 0u) { partial[free_count_at(wid.y, wid.x)] = sums.y; }
}

// (A·V)_t on an unseeded pixel t.
fn apply_at(v: u32, t: u32) -> f32 {
  let i = t % (p.H * p.W);
  let x = i % p.W;
  let w = neighbour_weights(t);
  var acc = vec[at(DIAG, t)] * vec[at(v, t)];
  if (x > 0u) { acc -= w.x * free_value(v, t - 1u); }
  if (x + 1u < p.W) { acc -= w.y * free_value(v, t + 1u); }
  if (i >= p.W) { acc -= w.z * free_value(v, t - p.W); }
  if (i + p.W < p.H * p.W) { acc -= w.w * free_value(v, t + p.W); }
  return acc;
}

// Q = A·x on the unseeded pixels (0 on seeds), once before the iterations.
@compute @workgroup_size(WG)
fn matvec(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (!in_slice(wid, lid)) { return; }
  let t = pixel(wid, lid);
  vec[at(Q, t)] = select(0.0, apply_at(X, t), is_free(t));
}

// The new p at unseeded pixel j of slice b: z + β·p (β is 0 in the first iteration: p = z).
fn next_p(b: u32, j: u32) -> f32 { return vec[at(Z, j)] + scal[8u * b + 3u] * vec[at(p_old(), j)]; }
// Each iteration: p = z + β·p, Q = A·p and the partial p·q in one pass (each neighbour's new p
// computed where it is read). A block with no unseeded pixel keeps its Q (0) and its partial
// slots (0).
@compute @workgroup_size(WG)
fn matvec_dot(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (block_idle_uniform(wid.y, wid.x, lid)) { return; }
  var pq = 0.0;
  if (in_slice(wid, lid)) {
    let t = pixel(wid, lid);
    if (is_free(t)) {
      let b = wid.y;
      let pt = next_p(b, t);
      vec[at(p_new(), t)] = pt;
      let i = t % (p.H * p.W);
      let x = i % p.W;
      let w = neighbour_weights(t);
      var q = vec[at(DIAG, t)] * pt;
      if (x > 0u && is_free(t - 1u)) { q -= w.x * next_p(b, t - 1u); }
      if (x + 1u < p.W && is_free(t + 1u)) { q -= w.y * next_p(b, t + 1u); }
      if (i >= p.W && is_free(t - p.W)) { q -= w.z * next_p(b, t - p.W); }
      if (i + p.W < p.H * p.W && is_free(t + p.W)) { q -= w.w * next_p(b, t + p.W); }
      vec[at(Q, t)] = q;
      pq = pt * q;
    }
  }
  block_sum(pq, 0.0, lid, wid.y, wid.x);
}

// r = b − A·x, z = r / diag, p = z; partial r·z and r·r.
@compute @workgroup_size(WG)
fn residual(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  var rz = 0.0;
  var rr = 0.0;
  if (in_slice(wid, lid)) {
    let t = pixel(wid, lid);
    let r = select(0.0, vec[at(RHS, t)] - vec[at(Q, t)], is_free(t));
    let z = r / vec[at(DIAG, t)];
    vec[at(R, t)] = r;
    vec[at(Z, t)] = z;
    vec[at(P, t)] = z;
    rz = r * z;
    rr = r * r;
  }
  block_sum(rz, rr, lid, wid.y, wid.x);
}

// x += α·p, r −= α·q, z = r / diag; partial r·z and r·r.
@compute @workgroup_size(WG)
fn update_x(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (block_idle_uniform(wid.y, wid.x, lid)) { return; }
  var rz = 0.0;
  var rr = 0.0;
  let live = !done(wid.y);
  if (in_slice(wid, lid) && live) {
    let t = pixel(wid, lid);
    if (is_free(t)) {
      let alpha = scal[8u * wid.y + 2u];
      vec[at(X, t)] += alpha * vec[at(p_new(), t)];
      let r = vec[at(R, t)] - alpha * vec[at(Q, t)];
      let z = r / vec[at(DIAG, t)];
      vec[at(R, t)] = r;
      vec[at(Z, t)] = z;
      rz = r * z;
      rr = r * r;
    }
  }
  block_sum(rz, rr, lid, wid.y, wid.x);
}

// One workgroup per slice reduces the block partials and updates the CG scalars.
//   mode 0 (after setup):     ‖b‖²
//   mode 1 (after residual):  rz, ‖r‖²; done when ‖r‖² ≤ tol²·‖b‖²
//   mode 2 (after matvec_dot): α = rz / pq; done when pq ≤ 0
//   mode 3 (after update_x):  β = rz' / rz, rz = rz', ‖r‖²; done when converged
@compute @workgroup_size(WG)
fn reduce(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  if (p.mode >= 2u && slice_done_uniform(b, lid)) { return; }
  var sa = 0.0;
  var sb = 0.0;
  for (var k = lid; k < p.blocks; k += WG) {
    sa += partial[2u * (b * p.blocks + k)];
    sb += partial[2u * (b * p.blocks + k) + 1u];
  }
  let sums = workgroup_sum(sa, sb, lid);
  if (lid != 0u) { return; }
  let o = 8u * b;
  let a = sums.x;
  let c = sums.y;
  if (p.mode == 0u) {
    scal[o + 4u] = a;
  } else if (p.mode == 1u) {
    scal[o + 0u] = a;
    scal[o + 5u] = c;
    if (c <= p.tol2 * scal[o + 4u]) { scal[o + 6u] = 1.0; }
  } else if (p.mode == 2u) {
    if (a <= 0.0) { scal[o + 6u] = 1.0; } else { scal[o + 2u] = scal[o + 0u] / a; }
  } else {
    scal[o + 1u] += 1.0;
    scal[o + 3u] = select(0.0, a / scal[o + 0u], scal[o + 0u] > 0.0);
    scal[o + 0u] = a;
    scal[o + 5u] = c;
    if (c <= p.tol2 * scal[o + 4u]) { scal[o + 6u] = 1.0; }
  }
}

// scal[b] = 0 but its edge scale β / (10·max(std, 1e-6)); std is partial[3b + 2] (moments' output).
@compute @workgroup_size(WG)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  if (lid < 7u) { scal[8u * b + lid] = 0.0; }
  if (lid == 7u) { scal[8u * b + 7u] = p.beta / (10.0 * max(partial[3u * b + 2u], 1e-6)); }
}

@compute @workgroup_size(WG)
fn clamp_x(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  if (!in_slice(wid, lid)) { return; }
  let t = pixel(wid, lid);
  vec[at(X, t)] = clamp(vec[at(X, t)], 0.0, 1.0);
}
