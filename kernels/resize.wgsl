// resize: bilinear upsampling of B maps (the 64×64 confidence grid to the 256×256 slice) and
// area downsampling of B binary masks (the 256×256 support mask to the 64×64 grid).
//
// Bilinear uses half-pixel centres with edge clamping (PyTorch align_corners=False):
//   src = (dst + 0.5)·(in/out) − 0.5, clamped to [0, in − 1].
// Area downsampling needs integer factors; a cell is foreground when its foreground fraction is
// ≥ 0.5, and when no cell of a mask reaches 0.5, every cell with any foreground is taken.

override WG: u32 = 64;

struct Params { B: u32, in_h: u32, in_w: u32, out_h: u32, out_w: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;        // [B][in_h][in_w]
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;  // [B][out_h][out_w] maps / fractions
@group(0) @binding(3) var<storage, read_write> cells: array<u32>; // [B][out_h][out_w] mask cells
@group(0) @binding(4) var<storage, read_write> any_half: array<atomic<u32>>; // [B], zeroed

fn linear_id(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * WG; }

// (batch, row, column) of output element t.
fn output_cell(t: u32) -> vec3u {
  let plane = p.out_h * p.out_w;
  return vec3u(t / plane, (t % plane) / p.out_w, t % p.out_w);
}

@compute @workgroup_size(WG)
fn upsample_bilinear(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = linear_id(gid, nwg);
  if (t >= p.B * p.out_h * p.out_w) { return; }
  let cell = output_cell(t);
  let b = cell.x;
  let y = cell.y;
  let x = cell.z;
  let sy = clamp((f32(y) + 0.5) * f32(p.in_h) / f32(p.out_h) - 0.5, 0.0, f32(p.in_h - 1u));
  let sx = clamp((f32(x) + 0.5) * f32(p.in_w) / f32(p.out_w) - 0.5, 0.0, f32(p.in_w - 1u));
  let y0 = u32(floor(sy));
  let x0 = u32(floor(sx));
  let y1 = min(y0 + 1u, p.in_h - 1u);
  let x1 = min(x0 + 1u, p.in_w - 1u);
  let fy = sy - f32(y0);
  let fx = sx - f32(x0);
  let base = b * p.in_h * p.in_w;
  let top = mix(src[base + y0 * p.in_w + x0], src[base + y0 * p.in_w + x1], fx);
  let bottom = mix(src[base + y1 * p.in_w + x0], src[base + y1 * p.in_w + x1], fx);
  dst[t] = mix(top, bottom, fy);
}

// Pass 1 of the mask downsampling: the foreground fraction of each output cell's block.
@compute @workgroup_size(WG)
fn mask_area_fraction(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = linear_id(gid, nwg);
  if (t >= p.B * p.out_h * p.out_w) { return; }
  let cell = output_cell(t);
  let b = cell.x;
  let y = cell.y;
  let x = cell.z;
  let fy = p.in_h / p.out_h;
  let fx = p.in_w / p.out_w;
  var count = 0u;
  for (var dy = 0u; dy < fy; dy++) {
    let row = b * p.in_h * p.in_w + (y * fy + dy) * p.in_w + x * fx;
    for (var dx = 0u; dx < fx; dx++) {
      count += select(0u, 1u, src[row + dx] > 0.5);
    }
  }
  // Compare counts, not rounded fractions, so the 0.5 threshold is exact.
  if (2u * count >= fy * fx) { atomicOr(&any_half[b], 1u); }
  dst[t] = f32(count) / f32(fy * fx);
  cells[t] = count;
}

// Pass 2: threshold at 0.5, or at "any overlap" for masks where nothing reached 0.5.
@compute @workgroup_size(WG)
fn mask_threshold(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = linear_id(gid, nwg);
  if (t >= p.B * p.out_h * p.out_w) { return; }
  let b = output_cell(t).x;
  let block = (p.in_h / p.out_h) * (p.in_w / p.out_w);
  let count = cells[t];
  let strict = atomicLoad(&any_half[b]) != 0u;
  cells[t] = select(select(0u, 1u, count > 0u), select(0u, 1u, 2u * count >= block), strict);
}
