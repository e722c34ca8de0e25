// refine: NRM's mask steps that follow the morphology and components kernels, on the device.
//   threshold:        mask = value > t (a decoder's probability to its mask)
//   best_component:   per row, the component with the best mean value (NRM keeps it), ties to
//                     the smaller root; means compare as sum_a·size_b > sum_b·size_a on the
//                     components kernel's fixed-point sums (the row's scale is common to all)
//   select_component: mask = the pixel's root is its row's best root
//   keep_rows:        mask kept where its row's flag is set, else cleared (an empty refined
//                     mask stays empty through NRM's second pass)
//   mask_to_f32:      a 0/1 mask as f32 0.0/1.0 bits (for kernels that read masks as f32)
//   pack:             values 0…255 (masks, seeds), four per u32 word, for a compact readback
//   pack_bits:        0/1 masks, 32 per u32 word (bit k of word w: value 32·w + k is not 0), for
//                     the final masks' readback at an eighth of the bytes of `pack`

override WG: u32 = 64;

struct Params { P: u32, B: u32, t: f32, _p: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;        // threshold: values [B][P]
@group(0) @binding(2) var<storage, read> roots: array<u32>;    // [B][P] root per pixel, or a mask
@group(0) @binding(3) var<storage, read> sizes: array<u32>;    // [B][P] by root; keep_rows: flags [B]
@group(0) @binding(4) var<storage, read> sums: array<u32>;     // [B][P][2] fixed-point (lo, hi) by root
@group(0) @binding(5) var<storage, read_write> out: array<u32>; // [B][P] mask, or packed words
@group(0) @binding(6) var<storage, read_write> best: array<u32>; // [B] best root or NONE

override NONE: u32; // NO_COMPONENT (components/reference.ts)

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

@compute @workgroup_size(WG)
fn threshold(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = index(gid, nwg);
  if (t >= p.B * p.P) { return; }
  out[t] = select(0u, 1u, a[t] > p.t);
}

fn fixed_sum(t: u32) -> f32 {
  return f32(bitcast<i32>(sums[2u * t + 1u])) * 4294967296.0 + f32(sums[2u * t]);
}

// (sum, size, root) a beats b: higher mean, or the same mean and a smaller root.
fn beats(sa: f32, na: f32, ra: u32, sb: f32, nb: f32, rb: u32) -> bool {
  if (ra == NONE) { return false; }
  if (rb == NONE) { return true; }
  let x = sa * nb;
  let y = sb * na;
  return x > y || (x == y && ra < rb);
}

var<workgroup> w_sum: array<f32, WG>;
var<workgroup> w_size: array<f32, WG>;
var<workgroup> w_root: array<u32, WG>;

@compute @workgroup_size(WG)
fn best_component(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  var s = 0.0;
  var n = 0.0;
  var r = NONE;
  for (var i = lid; i < p.P; i += WG) {
    let t = b * p.P + i;
    if (roots[t] != i) { continue; } // only a component's root carries its size and sum
    let si = fixed_sum(t);
    let ni = f32(sizes[t]);
    if (beats(si, ni, i, s, n, r)) { s = si; n = ni; r = i; }
  }
  w_sum[lid] = s;
  w_size[lid] = n;
  w_root[lid] = r;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride && beats(w_sum[lid + stride], w_size[lid + stride], w_root[lid + stride], w_sum[lid], w_size[lid], w_root[lid])) {
      w_sum[lid] = w_sum[lid + stride];
      w_size[lid] = w_size[lid + stride];
      w_root[lid] = w_root[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) { best[b] = w_root[0]; }
}

@compute @workgroup_size(WG)
fn select_component(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = index(gid, nwg);
  if (t >= p.B * p.P) { return; }
  let root = best[t / p.P];
  out[t] = select(0u, 1u, root != NONE && roots[t] == root);
}

@compute @workgroup_size(WG)
fn keep_rows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = index(gid, nwg);
  if (t >= p.B * p.P) { return; }
  out[t] = select(0u, roots[t], sizes[t / p.P] != NONE);
}

@compute @workgroup_size(WG)
fn pack(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = index(gid, nwg);
  let total = p.B * p.P;
  if (4u * w >= total) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let t = 4u * w + k;
    if (t < total) { word |= (roots[t] & 0xffu) << (8u * k); }
  }
  out[w] = word;
}

@compute @workgroup_size(WG)
fn pack_bits(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = index(gid, nwg);
  let total = p.B * p.P;
  if (32u * w >= total) { return; }
  var word = 0u;
  for (var k = 0u; k < 32u; k++) {
    let t = 32u * w + k;
    if (t < total && roots[t] != 0u) { word |= 1u << k; }
  }
  out[w] = word;
}

@compute @workgroup_size(WG)
fn mask_to_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = index(gid, nwg);
  if (t >= p.B * p.P) { return; }
  out[t] = select(0u, bitcast<u32>(1.0), roots[t] != 0u);
}
