// prior: the fused confidence as the decoder's foreground probability, a logistic centred between
// the negatives' mean μ of the row's support and the mean of the row's top-ranked cells (from the
// moments kernel),
// with `sharpness` steps across that gap:
//   prior = 1 / (1 + exp(−(v − mid) / scale)),  mid = (μ + top) / 2,  scale = max((top − μ) / sharpness, 1e-6).
// The exponent is clamped to ±80 (the probability is then 0 or 1 to f32 precision either way).

override WG: u32 = 64;

struct Params { P: u32, B: u32, sharpness: f32, _pad: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> maps: array<f32>;     // [B][P]
@group(0) @binding(2) var<storage, read> top: array<f32>;      // [B][3]: count, mean, std
@group(0) @binding(3) var<storage, read> mus: array<f32>;      // [B]: each row's support μ
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // [B][P]

@compute @workgroup_size(WG)
fn logistic(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.P) { return; }
  let b = t / p.P;
  let top_mean = top[3u * b + 1u];
  let mu = mus[b];
  let mid = (mu + top_mean) / 2.0;
  let scale = max((top_mean - mu) / p.sharpness, 1e-6);
  let z = clamp(-(maps[t] - mid) / scale, -80.0, 80.0);
  out[t] = 1.0 / (1.0 + exp(z));
}
