// points: PSM's bookkeeping between ranked cells and k-means, kept on the device.
//   sample_rows: a seeded random subset of m of each row's first `count` indices (all of them
//                when there are fewer), in ascending order: partial Fisher–Yates with 24-bit
//                draws (r = u / 2^24, exact in f32), as the CPU reference does it in f32.
//   cell_points: row-major cell indices of a G-wide grid → (x, y) coordinates, with each row's
//                count (rows given a count use it; others are n long).

override WG: u32 = 64;

struct Params { n: u32, B: u32, G: u32, m: u32, has_counts: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> indices: array<u32>;        // [B][n]
@group(0) @binding(2) var<storage, read> counts_in: array<u32>;      // [B] (has_counts) or a dummy
@group(0) @binding(3) var<storage, read> draws: array<u32>;          // [B][m] (sample_rows)
@group(0) @binding(4) var<storage, read_write> sampled: array<u32>;  // [B][n]: the first m are the sample
@group(0) @binding(5) var<storage, read_write> points: array<vec2f>; // [B][n] (cell_points)
@group(0) @binding(6) var<storage, read_write> counts_out: array<u32>; // [B]

override DRAW_RANGE: f32; // DRAW_RANGE (kmeans/reference.ts): draws are 24-bit integers

fn row_count(b: u32) -> u32 { return select(p.n, min(counts_in[b], p.n), p.has_counts == 1u); }

// One workgroup per row: copy the row, then one invocation swaps and sorts the sample.
@compute @workgroup_size(WG)
fn sample_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let count = row_count(b);
  for (var i = lid; i < count; i += WG) { sampled[b * p.n + i] = indices[b * p.n + i]; }
  storageBarrier();
  workgroupBarrier();
  if (lid != 0u) { return; }
  let base = b * p.n;
  if (count > p.m) {
    for (var i = 0u; i < p.m; i++) {
      let r = f32(draws[b * p.m + i]) / DRAW_RANGE;
      let j = i + min(u32(floor(r * f32(count - i))), count - i - 1u);
      let t = sampled[base + i];
      sampled[base + i] = sampled[base + j];
      sampled[base + j] = t;
    }
    // Insertion sort of the sample: ascending, like the band's own order.
    for (var i = 1u; i < p.m; i++) {
      let v = sampled[base + i];
      var k = i;
      while (k > 0u && sampled[base + k - 1u] > v) {
        sampled[base + k] = sampled[base + k - 1u];
        k--;
      }
      sampled[base + k] = v;
    }
  }
  counts_out[b] = min(count, p.m);
}

@compute @workgroup_size(WG)
fn cell_points(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let t = gid.x + gid.y * nwg.x * WG;
  if (t >= p.B * p.n) { return; }
  let b = t / p.n;
  let i = t % p.n;
  let count = row_count(b);
  if (i == 0u) { counts_out[b] = count; }
  if (i >= count) { return; }
  let cell = indices[t];
  points[t] = vec2f(f32(cell % p.G), f32(cell / p.G));
}
