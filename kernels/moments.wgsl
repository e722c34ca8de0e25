// moments: mean and population standard deviation (the Gaussian MLE of CMSM's negatives) of the
// masked values of each of B rows. One workgroup per row runs the corrected two-pass algorithm
// (Chan, Golub & LeVeque): pass 1 reduces the mean; pass 2 reduces d = v − mean as Σd and Σd²,
// and var = (Σd² − (Σd)²/n) / n cancels the first-order error of the f32 mean. No sum of squares
// of raw values ever forms, so a small spread around a large offset keeps its digits.
// Both reductions run in a fixed order: the result is deterministic.

override WG: u32 = 256;

struct Params { N: u32, B: u32, has_mask: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;   // [B][N]
@group(0) @binding(2) var<storage, read> mask: array<u32>;     // [B][N] or a 1-element dummy
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [B][3]: count, mean, std

var<workgroup> w_a: array<f32, WG>;
var<workgroup> w_b: array<f32, WG>;

// has_mask: 0 every value, 1 where the mask is set, 2 where it is not (a support's background).
fn selected(k: u32) -> bool { return p.has_mask == 0u || (mask[k] != 0u) == (p.has_mask == 1u); }

// Tree-sums w_a and w_b across the workgroup; the totals end in slot 0.
fn reduce_pair(lid: u32) {
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      w_a[lid] += w_a[lid + stride];
      w_b[lid] += w_b[lid + stride];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x * p.N;
  var n = 0.0;
  var s = 0.0;
  for (var i = lid; i < p.N; i += WG) {
    if (selected(row + i)) { n += 1.0; s += values[row + i]; }
  }
  w_a[lid] = n;
  w_b[lid] = s;
  reduce_pair(lid);
  let count = w_a[0];
  let mean = select(0.0, w_b[0] / count, count > 0.0);
  workgroupBarrier();

  var sd = 0.0;
  var sd2 = 0.0;
  for (var i = lid; i < p.N; i += WG) {
    if (selected(row + i)) {
      let d = values[row + i] - mean;
      sd += d;
      sd2 += d * d;
    }
  }
  w_a[lid] = sd;
  w_b[lid] = sd2;
  reduce_pair(lid);
  if (lid == 0u) {
    let var_ = select(0.0, max(w_b[0] - w_a[0] * w_a[0] / count, 0.0) / count, count > 0.0);
    out[3u * wid.x] = count;
    out[3u * wid.x + 1u] = mean + select(0.0, w_a[0] / count, count > 0.0);
    out[3u * wid.x + 2u] = sqrt(var_);
  }
}
