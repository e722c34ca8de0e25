// prompt: the weight-free decoder's inputs, built on the device from the prompt points.
//   shrink_inputs: the slice and the prior area-averaged by `factor` to the decoder's grid; with a
//                  mask prompt (NRM's second pass) the prior becomes (1 − w)·prior + w·mask.
//   seed_map:      the random walker's seeds: background where the prior is below `background`,
//                  background outside the row's bounding box, then a disc of radius r at every
//                  prompt point (negatives first, so a positive sharing a pixel wins).
// prompts holds, per row, the box (x0, x1, y0, y1 in ROI pixels; x0 > x1 means none), then P
// points (x, y, label, valid) in the order they are painted.

override WG: u32 = 64;

struct Params {
  H: u32, W: u32, B: u32, factor: u32,
  P: u32, radius: u32, has_prior: u32, has_mask: u32,
  mask_weight: f32, background: f32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;          // [B][H·W] ROI slices
@group(0) @binding(2) var<storage, read> prior: array<f32>;          // [B][H·W] or a dummy
@group(0) @binding(3) var<storage, read> mask_prompt: array<u32>;    // [B][H·W] or a dummy
@group(0) @binding(4) var<storage, read> prompts: array<vec4f>;      // [B][1 + P]
@group(0) @binding(5) var<storage, read_write> small_image: array<f32>; // [B][h·w]
@group(0) @binding(6) var<storage, read_write> small_prior: array<f32>; // [B][h·w]
@group(0) @binding(7) var<storage, read_write> seeds: array<u32>;       // [B][h·w]: 0 none, 1 fg, 2 bg

override FOREGROUND: u32; // SEED_FOREGROUND (random-walker/reference.ts)
override BACKGROUND: u32; // SEED_BACKGROUND

fn small_index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// A decoder-grid pixel t as (slice, row, column); the grid is (H / factor) × (W / factor).
fn small_pixel(t: u32) -> vec3u {
  let h = p.H / p.factor;
  let w = p.W / p.factor;
  return vec3u(t / (h * w), (t % (h * w)) / w, t % w);
}

fn small_count() -> u32 { return p.B * (p.H / p.factor) * (p.W / p.factor); }

@compute @workgroup_size(WG)
fn shrink_inputs(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = small_index(gid, nwg);
  if (t >= small_count()) { return; }
  let px = small_pixel(t); // (slice, row, column)
  var img = 0.0;
  var pri = 0.0;
  var msk = 0.0;
  for (var dy = 0u; dy < p.factor; dy++) {
    for (var dx = 0u; dx < p.factor; dx++) {
      let i = (px.x * p.H + px.y * p.factor + dy) * p.W + px.z * p.factor + dx;
      img += image[i];
      if (p.has_prior == 1u) { pri += prior[i]; }
      if (p.has_mask == 1u) { msk += f32(mask_prompt[i]); }
    }
  }
  let n = f32(p.factor * p.factor);
  small_image[t] = img / n;
  var q = select(0.5, pri / n, p.has_prior == 1u);
  if (p.has_mask == 1u) { q = (1.0 - p.mask_weight) * q + p.mask_weight * (msk / n); }
  small_prior[t] = q;
}

@compute @workgroup_size(WG)
fn seed_map(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = small_index(gid, nwg);
  if (t >= small_count()) { return; }
  let px = small_pixel(t); // (slice, row, column)
  let s = px.x;
  var seed = 0u;
  if ((p.has_prior == 1u || p.has_mask == 1u) && small_prior[t] < p.background) { seed = BACKGROUND; }
  let row = s * (1u + p.P);
  let box = prompts[row];
  if (box.x <= box.y) {
    let X = (f32(px.z) + 0.5) * f32(p.factor);
    let Y = (f32(px.y) + 0.5) * f32(p.factor);
    if (X < box.x || X > box.y || Y < box.z || Y > box.w) { seed = BACKGROUND; }
  }
  let r = i32(p.radius);
  for (var k = 0u; k < p.P; k++) {
    let q = prompts[row + 1u + k];
    if (q.w == 0.0) { continue; }
    let dx = i32(px.z) - i32(floor(q.x / f32(p.factor)));
    let dy = i32(px.y) - i32(floor(q.y / f32(p.factor)));
    if (dx * dx + dy * dy <= r * r) { seed = select(BACKGROUND, FOREGROUND, q.z == 1.0); }
  }
  seeds[t] = seed;
}
