// components: connected-component labelling of B binary masks (4- or 8-connectivity) with each
// component's size and the sum of a value map over it (NRM scores every component by its mean
// confidence). Union–find with atomicMin links (Playne & Hawick, 2018): every root is the
// smallest row-major index of its component, so labels do not depend on thread timing.
// Sums are exact integer sums of fixed-point values (64-bit as two u32 words with carry), so
// they too are independent of the order in which threads add them.

override WG: u32 = 64;

struct Params { H: u32, W: u32, B: u32, eight: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> mask: array<u32>;          // [B][H·W]
@group(0) @binding(2) var<storage, read> values: array<f32>;        // [B][H·W]
@group(0) @binding(3) var<storage, read_write> parent: array<atomic<u32>>; // [B][H·W], root index per fg pixel
@group(0) @binding(4) var<storage, read_write> sizes: array<atomic<u32>>;  // [B][H·W], by root, zeroed
@group(0) @binding(5) var<storage, read_write> sums: array<atomic<u32>>;   // [B][H·W][2] lo, hi, zeroed
@group(0) @binding(6) var<storage, read_write> max_abs: array<atomic<u32>>; // [B], zeroed

override NONE: u32; // NO_COMPONENT (components/reference.ts)
// Fixed point: each value becomes round(v / max|v| · 2^23), exact in i32.
override FIXED_ONE: f32; // FIXED_ONE (components/index.ts)

fn pixel(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

fn find(base: u32, start: u32) -> u32 {
  var x = start;
  loop {
    let up = atomicLoad(&parent[base + x]);
    if (up == x) { return x; }
    x = up;
  }
}

fn unite(base: u32, first: u32, second: u32) {
  var a = find(base, first);
  var b = find(base, second);
  loop {
    if (a == b) { break; }
    if (a < b) {
      let old = atomicMin(&parent[base + b], a);
      if (old == b) { break; }
      b = find(base, old);
    } else {
      let old = atomicMin(&parent[base + a], b);
      if (old == a) { break; }
      a = find(base, old);
    }
  }
}

@compute @workgroup_size(WG)
fn init(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = pixel(gid, nwg);
  let plane = p.H * p.W;
  if (t >= p.B * plane) { return; }
  let on = mask[t] != 0u;
  atomicStore(&parent[t], select(NONE, t % plane, on));
  if (on) { atomicMax(&max_abs[t / plane], bitcast<u32>(abs(values[t]))); }
}

@compute @workgroup_size(WG)
fn merge(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = pixel(gid, nwg);
  let plane = p.H * p.W;
  if (t >= p.B * plane || mask[t] == 0u) { return; }
  let base = t - t % plane;
  let i = t % plane;
  let y = i / p.W;
  let x = i % p.W;
  if (x > 0u && mask[t - 1u] != 0u) { unite(base, i, i - 1u); }
  if (y > 0u) {
    if (mask[t - p.W] != 0u) { unite(base, i, i - p.W); }
    if (p.eight != 0u) {
      if (x > 0u && mask[t - p.W - 1u] != 0u) { unite(base, i, i - p.W - 1u); }
      if (x + 1u < p.W && mask[t - p.W + 1u] != 0u) { unite(base, i, i - p.W + 1u); }
    }
  }
}

@compute @workgroup_size(WG)
fn compress(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = pixel(gid, nwg);
  let plane = p.H * p.W;
  if (t >= p.B * plane || mask[t] == 0u) { return; }
  atomicStore(&parent[t], find(t - t % plane, t % plane));
}

@compute @workgroup_size(WG)
fn accumulate(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = pixel(gid, nwg);
  let plane = p.H * p.W;
  if (t >= p.B * plane || mask[t] == 0u) { return; }
  let b = t / plane;
  let root = b * plane + atomicLoad(&parent[t]);
  atomicAdd(&sizes[root], 1u);
  let m = bitcast<f32>(atomicLoad(&max_abs[b]));
  if (m == 0.0) { return; }
  let q = i32(round(values[t] / m * FIXED_ONE));
  let lo = bitcast<u32>(q);
  let old = atomicAdd(&sums[2u * root], lo);
  let carry = select(0u, 1u, old + lo < old);
  let extend = select(0u, 0xffffffffu, q < 0); // sign extension of q into the high word
  atomicAdd(&sums[2u * root + 1u], carry + extend);
}
