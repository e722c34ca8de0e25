// band: the cells whose value lies in [lo, hi] (PSM's negative candidate band), compacted into a
// list of row-major indices in ascending order, for B rows with their own bounds.
// Three passes: count per block → exclusive scan of the block counts → scatter with a
// workgroup-local scan. The order is deterministic: it is the row-major order of the input.

override WG: u32 = 256;

struct Params { N: u32, B: u32, blocks: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;      // [B][N]
@group(0) @binding(2) var<storage, read> bounds: array<f32>;      // [B][2]: lo, hi
@group(0) @binding(3) var<storage, read_write> block_sums: array<u32>; // [B][blocks]
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;     // [B]
@group(0) @binding(5) var<storage, read_write> indices: array<u32>;    // [B][N]

var<workgroup> scan: array<u32, WG>;

fn in_band(b: u32, i: u32) -> u32 {
  if (i >= p.N) { return 0u; }
  let v = values[b * p.N + i];
  return select(0u, 1u, v >= bounds[2u * b] && v <= bounds[2u * b + 1u]);
}

// Inclusive Hillis–Steele scan of `scan` across the workgroup.
fn scan_workgroup(lid: u32) {
  for (var offset = 1u; offset < WG; offset *= 2u) {
    workgroupBarrier();
    let add = select(0u, scan[lid - offset], lid >= offset);
    workgroupBarrier();
    scan[lid] += add;
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn count_blocks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  scan[lid] = in_band(b, wid.x * WG + lid);
  scan_workgroup(lid);
  if (lid == WG - 1u) { block_sums[b * p.blocks + wid.x] = scan[lid]; }
}

// One workgroup per row turns its block counts into exclusive offsets, WG blocks at a time.
@compute @workgroup_size(WG)
fn scan_blocks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  var carry = 0u;
  for (var start = 0u; start < p.blocks; start += WG) {
    let k = start + lid;
    let own = select(0u, block_sums[b * p.blocks + k], k < p.blocks);
    scan[lid] = own;
    scan_workgroup(lid);
    if (k < p.blocks) { block_sums[b * p.blocks + k] = carry + scan[lid] - own; }
    carry += scan[WG - 1u];
    workgroupBarrier();
  }
  if (lid == 0u) { counts[b] = carry; }
}

@compute @workgroup_size(WG)
fn scatter(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  let i = wid.x * WG + lid;
  let flag = in_band(b, i);
  scan[lid] = flag;
  scan_workgroup(lid);
  if (flag == 1u) {
    indices[b * p.N + block_sums[b * p.blocks + wid.x] + scan[lid] - 1u] = i;
  }
}
