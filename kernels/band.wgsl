// band: the cells whose value lies in [lo, hi] (PSM's negative candidate band), compacted into a
// list of row-major indices in ascending order, for B rows with their own bounds.
// Three passes: count per block → exclusive scan of the block counts → scatter. A block is
// WG·ITEMS consecutive values; each invocation owns ITEMS consecutive ones, counts them
// serially, and one workgroup scan of the WG partial counts gives every invocation its offset.
// Few, large blocks keep the barriers per value low. The order is deterministic: it is the
// row-major order of the input.

override WG: u32 = 256;
override ITEMS: u32; // BAND_ITEMS (band/index.ts): values per invocation

struct Params { N: u32, B: u32, blocks: u32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;      // [B][N]
@group(0) @binding(2) var<storage, read> bounds: array<f32>;      // [B][2]: lo, hi
@group(0) @binding(3) var<storage, read_write> block_sums: array<u32>; // [B][blocks]
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;     // [B]
@group(0) @binding(5) var<storage, read_write> indices: array<u32>;    // [B][N]

var<workgroup> scan: array<u32, WG>;

fn in_band(b: u32, i: u32) -> bool {
  if (i >= p.N) { return false; }
  let v = values[b * p.N + i];
  return v >= bounds[2u * b] && v <= bounds[2u * b + 1u];
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

fn count_own(b: u32, first: u32) -> u32 {
  var n = 0u;
  for (var t = 0u; t < ITEMS; t++) { n += select(0u, 1u, in_band(b, first + t)); }
  return n;
}

@compute @workgroup_size(WG)
fn count_blocks(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.y;
  scan[lid] = count_own(b, (wid.x * WG + lid) * ITEMS);
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
  let first = (wid.x * WG + lid) * ITEMS;
  let own = count_own(b, first);
  scan[lid] = own;
  scan_workgroup(lid);
  var out = b * p.N + block_sums[b * p.blocks + wid.x] + scan[lid] - own;
  for (var t = 0u; t < ITEMS; t++) {
    if (in_band(b, first + t)) {
      indices[out] = first + t;
      out += 1u;
    }
  }
}
