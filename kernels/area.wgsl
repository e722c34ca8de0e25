// area: a decoder's foreground probabilities to a mask whose area follows a target (the support
// organ's area: a shape prior that needs no training), within a clamped threshold range.
// One workgroup per row:
//   1. a histogram of the row's values on NB bins over [0, 1] (bin = min(NB − 1, ⌊max(v, 0)·NB⌋));
//   2. from the top bin down, the first bin k at which the values in bins ≥ k number at least
//      the row's target; t = clamp(k / NB, lo, hi) (a target ≤ 0: t = fallback);
//   3. mask = value > t.

override WG: u32 = 256;
override NB: u32; // AREA_BINS (area/reference.ts)

struct Params { P: u32, B: u32, lo: f32, hi: f32, fallback: f32, _a: u32, _b: u32, _c: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> values: array<f32>;     // [B][P]
@group(0) @binding(2) var<storage, read> targets: array<f32>;    // [B] pixels
@group(0) @binding(3) var<storage, read_write> out: array<u32>;  // [B][P] mask

var<workgroup> hist: array<atomic<u32>, NB>;
var<workgroup> cut: f32;

fn bin(v: f32) -> u32 { return min(NB - 1u, u32(max(v, 0.0) * f32(NB))); }

@compute @workgroup_size(WG)
fn area(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.B) { return; }
  for (var i = lid; i < NB; i += WG) { atomicStore(&hist[i], 0u); }
  workgroupBarrier();
  let row = b * p.P;
  for (var i = lid; i < p.P; i += WG) { atomicAdd(&hist[bin(values[row + i])], 1u); }
  workgroupBarrier();
  if (lid == 0u) {
    let wanted = targets[b];
    var t = p.fallback;
    if (wanted > 0.0) {
      var count = 0u;
      var k = NB - 1u;
      loop {
        count += atomicLoad(&hist[k]);
        if (f32(count) >= wanted || k == 0u) { break; }
        k -= 1u;
      }
      t = clamp(f32(k) / f32(NB), p.lo, p.hi);
    }
    cut = t;
  }
  let t = workgroupUniformLoad(&cut);
  for (var i = lid; i < p.P; i += WG) { out[row + i] = select(0u, 1u, values[row + i] > t); }
}
