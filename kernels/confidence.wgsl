// confidence: S(x) = F̂(x) · t̄ for every cell of B feature grids (CMSM steps 2-3, NRM scores).
//
// Layout: channel-first, [B][C][N]. One invocation owns one cell and walks its C channels, so
// for each channel consecutive invocations read consecutive addresses (coalesced on GPUs), and
// the dot product and the squared norm accumulate in registers in a single pass. It is also the
// native layout of SAM's image embedding (1×256×64×64).
//
// The prototype is either shared by all B grids (proto_stride = 0) or one per grid (= C).

override WG: u32 = 64;
override EPS: f32; // NORM_EPS (shapes.ts): v / max(‖v‖, eps)

struct Params { C: u32, N: u32, B: u32, proto_stride: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> feats: array<f32>;   // [B][C][N]
@group(0) @binding(2) var<storage, read> proto: array<f32>;   // [B or 1][C]
@group(0) @binding(3) var<storage, read_write> conf: array<f32>; // [B][N]

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.N) { return; }
  let b = t / p.N;
  let i = t % p.N;
  let base = b * p.C * p.N + i;
  let pb = b * p.proto_stride;
  var dot = 0.0;
  var ss = 0.0;
  for (var c = 0u; c < p.C; c++) {
    let f = feats[base + c * p.N];
    dot += f * proto[pb + c];
    ss += f * f;
  }
  conf[t] = dot / max(sqrt(ss), EPS);
}
