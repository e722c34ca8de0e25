// topk: the k largest values of each of B rows with their indices, ties to the lower index.
// A bitonic sort of (value, index) pairs, padded to a power of two P with −∞, in the total order
// "larger value first, then lower index first", so the first k of a sorted row are the answer.
// Stages with j < BLOCK/2 run in workgroup memory (BLOCK = 2·WG pairs per workgroup); larger
// strides run one global step per dispatch.

override WG: u32 = 256;

struct Params { N: u32, P: u32, B: u32, k: u32, j: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;         // [B][N]
@group(0) @binding(2) var<storage, read_write> vals: array<f32>;  // [B][P]
@group(0) @binding(3) var<storage, read_write> idx: array<u32>;   // [B][P]

const LOWEST: f32 = -0x1.fffffep+127f; // −FLT_MAX: padding sorts after every finite value

var<workgroup> s_val: array<f32, 2 * WG>;
var<workgroup> s_idx: array<u32, 2 * WG>;

// True when (va, ia) belongs after (vb, ib) in the "best first" order.
fn after(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return va < vb || (va == vb && ia > ib);
}

@compute @workgroup_size(WG)
fn init(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.P) { return; }
  let b = t / p.P;
  let i = t % p.P;
  vals[t] = select(LOWEST, src[b * p.N + i], i < p.N);
  idx[t] = i;
}

// Orders the pair (i, i ^ j) of stage k in workgroup memory.
fn local_step(i: u32, j: u32, k: u32, base: u32) {
  let l = i ^ j;
  if (l > i) {
    let descending = ((base + i) & k) != 0u;
    let a_after_b = after(s_val[i], s_idx[i], s_val[l], s_idx[l]);
    if (a_after_b != descending) {
      let tv = s_val[i]; s_val[i] = s_val[l]; s_val[l] = tv;
      let ti = s_idx[i]; s_idx[i] = s_idx[l]; s_idx[l] = ti;
    }
  }
}

fn load_block(b: u32, block: u32, lid: u32) -> u32 {
  let base = block * 2u * WG;
  s_val[lid] = vals[b * p.P + base + lid];
  s_idx[lid] = idx[b * p.P + base + lid];
  s_val[lid + WG] = vals[b * p.P + base + lid + WG];
  s_idx[lid + WG] = idx[b * p.P + base + lid + WG];
  workgroupBarrier();
  return base;
}

fn store_block(b: u32, base: u32, lid: u32) {
  workgroupBarrier();
  vals[b * p.P + base + lid] = s_val[lid];
  idx[b * p.P + base + lid] = s_idx[lid];
  vals[b * p.P + base + lid + WG] = s_val[lid + WG];
  idx[b * p.P + base + lid + WG] = s_idx[lid + WG];
}

// Every stage k ≤ min(P, 2·WG), entirely in workgroup memory.
@compute @workgroup_size(WG)
fn sort_blocks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let base = load_block(b, wid.x, lid);
  let span = min(p.P, 2u * WG);
  for (var k = 2u; k <= span; k *= 2u) {
    for (var j = k / 2u; j > 0u; j /= 2u) {
      local_step(lid, j, k, base);
      local_step(lid + WG, j, k, base);
      workgroupBarrier();
    }
  }
  store_block(b, base, lid);
}

// Stage k (> 2·WG), steps j < 2·WG, in workgroup memory.
@compute @workgroup_size(WG)
fn merge_blocks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let base = load_block(b, wid.x, lid);
  for (var j = WG; j > 0u; j /= 2u) {
    local_step(lid, j, p.k, base);
    local_step(lid + WG, j, p.k, base);
    workgroupBarrier();
  }
  store_block(b, base, lid);
}

// Stage k, one step j ≥ 2·WG, over global memory: one invocation per pair.
@compute @workgroup_size(WG)
fn global_step(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let b = wid.y;
  let t = gid.x;
  if (t >= p.P / 2u) { return; }
  let i = (t / p.j) * 2u * p.j + (t % p.j);
  let l = i + p.j;
  let descending = (i & p.k) != 0u;
  let o = b * p.P;
  if (after(vals[o + i], idx[o + i], vals[o + l], idx[o + l]) != descending) {
    let tv = vals[o + i]; vals[o + i] = vals[o + l]; vals[o + l] = tv;
    let ti = idx[o + i]; idx[o + i] = idx[o + l]; idx[o + l] = ti;
  }
}
