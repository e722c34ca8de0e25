// features: the weight-free appearance encoder's channels. For each scale σ, from the blurred
// image G = g_σ * I and the blurred square Q = g_σ * I², the local mean G and the local standard
// deviation sqrt(max(Q − G², 0)), area-pooled by an integer factor onto the feature grid and
// written channel-first into [B][C][h·w]; then every channel is standardised over its grid
// (z-score with the row's mean and std from the moments kernel).
// stack_position builds the position encoder's grids: the appearance channels times `weight`,
// then the constant position channels, [B][C + channel][H·W].

override WG: u32 = 64;
override EPS: f32; // FEATURE_EPS (features/reference.ts)

struct Params { H: u32, W: u32, B: u32, pool: u32, C: u32, channel: u32, weight: f32, _p1: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;          // square: I; local_stats: G; standardize: moments [B·C][3]
@group(0) @binding(2) var<storage, read> b: array<f32>;          // local_stats: Q
@group(0) @binding(3) var<storage, read_write> out: array<f32>;  // square: I²; else features [B][C][h·w]

// Area average by the factor `pool` (the encoder's pre-pooling before the blurs).
@compute @workgroup_size(WG)
fn shrink(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let h = p.H / p.pool;
  let w = p.W / p.pool;
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * h * w) { return; }
  let s = t / (h * w);
  let y = (t % (h * w)) / w;
  let x = t % w;
  var acc = 0.0;
  for (var dy = 0u; dy < p.pool; dy++) {
    for (var dx = 0u; dx < p.pool; dx++) { acc += a[(s * p.H + y * p.pool + dy) * p.W + x * p.pool + dx]; }
  }
  out[t] = acc / f32(p.pool * p.pool);
}

@compute @workgroup_size(WG)
fn square(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.H * p.W) { return; }
  out[t] = a[t] * a[t];
}

// One invocation per (slice, feature cell): pools the mean and the std channel of one scale.
@compute @workgroup_size(WG)
fn local_stats(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let h = p.H / p.pool;
  let w = p.W / p.pool;
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * h * w) { return; }
  let s = t / (h * w);
  let cell = t % (h * w);
  let cy = cell / w;
  let cx = cell % w;
  var mean = 0.0;
  var spread = 0.0;
  for (var dy = 0u; dy < p.pool; dy++) {
    for (var dx = 0u; dx < p.pool; dx++) {
      let i = s * p.H * p.W + (cy * p.pool + dy) * p.W + cx * p.pool + dx;
      let g = a[i];
      mean += g;
      spread += sqrt(max(b[i] - g * g, 0.0));
    }
  }
  let n = f32(p.pool * p.pool);
  out[(s * p.C + p.channel) * h * w + cell] = mean / n;
  out[(s * p.C + p.channel + 1u) * h * w + cell] = spread / n;
}

// z-score of every value of channels [0, C) with its row's (count, mean, std) from moments.
@compute @workgroup_size(WG)
fn standardize(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let cells = (p.H / p.pool) * (p.W / p.pool);
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.C * cells) { return; }
  let row = t / cells;
  out[t] = (out[t] - a[3u * row + 1u]) / max(a[3u * row + 2u], EPS);
}

// a: appearance [B][C][H·W]; b: position channels [channel][H·W]; out: [B][C + channel][H·W].
@compute @workgroup_size(WG)
fn stack_position(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let cells = p.H * p.W;
  let Ct = p.C + p.channel;
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * Ct * cells) { return; }
  let s = t / (Ct * cells);
  let c = (t / cells) % Ct;
  let i = t % cells;
  if (c < p.C) {
    out[t] = a[(s * p.C + c) * cells + i] * p.weight;
  } else {
    out[t] = b[(c - p.C) * cells + i];
  }
}
