// prototype: t̄ = (1/n) Σ_{i ∈ fg} F_i / ‖F_i‖ for B support grids (CMSM step 2).
// Layout: features are channel-first, [B][C][N] with N = H·W cells (see confidence.wgsl).
// The mean is not renormalised: t̄ · F̂(x) then equals the mean cosine over the n support cells.

override WG: u32 = 64;
override EPS: f32; // NORM_EPS (shapes.ts), as torch.nn.functional.normalize: v / max(‖v‖, eps)

struct Params { C: u32, N: u32, B: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> feats: array<f32>;        // [B][C][N]
@group(0) @binding(2) var<storage, read> mask: array<u32>;         // [B][N], nonzero = foreground
@group(0) @binding(3) var<storage, read_write> inv_norm: array<f32>; // [B][N]
@group(0) @binding(4) var<storage, read_write> proto: array<f32>;  // [B][C]

// Pass 1: one invocation per cell; consecutive cells read consecutive addresses per channel.
@compute @workgroup_size(WG)
fn cell_norms(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.N) { return; }
  let b = t / p.N;
  let i = t % p.N;
  let base = b * p.C * p.N + i;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let f = feats[base + c * p.N];
    ss += f * f;
  }
  inv_norm[t] = 1.0 / max(sqrt(ss), EPS);
}

var<workgroup> part_sum: array<f32, WG>;
var<workgroup> part_cnt: array<u32, WG>;

// Pass 2: one workgroup per (channel, batch) sums that channel's normalised values over the
// foreground cells, strided so that a workgroup reads a contiguous row.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let b = wid.y;
  let row = (b * p.C + c) * p.N;
  var s = 0.0;
  var n = 0u;
  for (var i = lid; i < p.N; i += WG) {
    if (mask[b * p.N + i] != 0u) {
      s += feats[row + i] * inv_norm[b * p.N + i];
      n += 1u;
    }
  }
  part_sum[lid] = s;
  part_cnt[lid] = n;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      part_sum[lid] += part_sum[lid + stride];
      part_cnt[lid] += part_cnt[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    proto[b * p.C + c] = select(0.0, part_sum[0] / f32(part_cnt[0]), part_cnt[0] > 0u);
  }
}
