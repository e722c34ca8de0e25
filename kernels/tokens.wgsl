// tokens: a ViT's output tokens to a channel-first feature grid, on the device. DINOv2 gives
// [B][T][C] (1 CLS token, R register tokens, then g×g patch tokens in row-major order); the
// confidence kernels read [B][C][g·g]. Drops the first `skip` tokens and transposes.

override WG: u32 = 64;

struct Params { B: u32, T: u32, C: u32, skip: u32, cells: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<f32>;      // [B][T][C]
@group(0) @binding(2) var<storage, read_write> grid: array<f32>;  // [B][C][cells]

@compute @workgroup_size(WG)
fn to_grid(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.C * p.cells) { return; }
  let b = t / (p.C * p.cells);
  let c = (t / p.cells) % p.C;
  let i = t % p.cells;
  grid[t] = tokens[(b * p.T + p.skip + i) * p.C + c];
}
