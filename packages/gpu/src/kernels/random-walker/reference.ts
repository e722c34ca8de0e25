/**
 * CPU reference of kernels/random-walker.wgsl: Grady's random walker with priors, the weight-free
 * promptable decoder. On the 4-connected pixel graph with edge weights
 * w_ij = exp(−β·(I_i − I_j)² / (10·std(I))) (scikit-image's scaling), the foreground probability
 * x solves, for every unseeded pixel i,
 *   (d_i + γ)·x_i − Σ_{j unseeded} w_ij·x_j = γ·p_i + Σ_{j foreground seed} w_ij,
 * with d_i = Σ_j w_ij, seeds fixed at 1 (foreground) or 0 (background), and p a prior
 * probability weighted by γ (Grady 2005, "Multilabel random walker segmentation using prior
 * models"). Jacobi-preconditioned conjugate gradients, from x = p.
 */
import { finite, hostValues, imageShape, length, ShapeError, type ImageShape, type Values } from '../../shapes.ts';
import { momentsReference } from '../moments/reference.ts';

export const SEED_NONE = 0;
export const SEED_FOREGROUND = 1;
export const SEED_BACKGROUND = 2;

export interface RandomWalkerOptions {
  /** Edge contrast β (scikit-image's default: 130). */
  beta: number;
  /** Prior weight γ ≥ 0; 0 ignores the prior. */
  gamma: number;
  /** Conjugate-gradient iterations at most. */
  maxIterations: number;
  /** Stop when ‖r‖ ≤ tolerance·‖b‖. */
  tolerance: number;
}

export const RANDOM_WALKER_DEFAULTS: RandomWalkerOptions = { beta: 130, gamma: 0.05, maxIterations: 300, tolerance: 1e-3 };

export function validateRandomWalker(image: Values, seeds: Values, prior: Values, s: ImageShape, o: RandomWalkerOptions): void {
  imageShape('random-walker', s);
  const n = s.B * s.H * s.W;
  length('random-walker', 'image', image, n);
  length('random-walker', 'seeds', seeds, n);
  length('random-walker', 'prior', prior, n);
  finite('random-walker', 'image', image);
  finite('random-walker', 'prior', prior);
  if (!(o.beta >= 0) || !(o.gamma >= 0) || !(o.tolerance > 0) || !Number.isInteger(o.maxIterations) || o.maxIterations < 1) {
    throw new ShapeError('random-walker', `options out of range: ${JSON.stringify(o)}`);
  }
  const codes = hostValues(seeds);
  for (let i = 0; codes && i < n; i++) {
    if (codes[i]! > SEED_BACKGROUND) throw new ShapeError('random-walker', `seeds[${i}] is ${codes[i]}; use 0 (none), 1 (foreground), 2 (background)`);
  }
}

/**
 * β / (10·std(I)) for one slice: the contrast scale of its edge weights. The std is the moments
 * kernel's (population, two-pass), which the GPU path computes on the device.
 */
export function edgeScale(slice: Float32Array, beta: number): number {
  const { std } = momentsReference(slice, null, { B: 1, N: slice.length })[0]!;
  return beta / (10 * Math.max(std, 1e-6));
}

/** The weight of the edge between two pixels of intensities a and b, as a float32 (the kernel's). */
export function edgeWeight(a: number, b: number, scale: number): number {
  return Math.fround(Math.exp(-scale * (a - b) ** 2) + 1e-6);
}

export interface RandomWalkerResult {
  /** Foreground probability per pixel. */
  probability: Float32Array;
  /** CG iterations per slice. */
  iterations: number[];
}

export function randomWalkerReference(
  image: Float32Array,
  seeds: Uint8Array,
  prior: Float32Array,
  s: ImageShape,
  o: RandomWalkerOptions = RANDOM_WALKER_DEFAULTS,
): RandomWalkerResult {
  validateRandomWalker(image, seeds, prior, s, o);
  const { B, H, W } = s;
  const plane = H * W;
  const probability = new Float32Array(B * plane);
  const iterations: number[] = [];
  const x = new Float64Array(plane);
  const r = new Float64Array(plane);
  const p = new Float64Array(plane);
  const q = new Float64Array(plane);
  const z = new Float64Array(plane);
  const diag = new Float64Array(plane);
  // Per pixel, the weights to its left/right/up/down neighbours (0 where there is none).
  const wl = new Float64Array(plane);
  const wr = new Float64Array(plane);
  const wu = new Float64Array(plane);
  const wd = new Float64Array(plane);
  const freeMask = new Uint8Array(plane);
  // The same to unseeded neighbours only, as float32 (the weights are float32 values already).
  const fl = new Float32Array(plane);
  const fr = new Float32Array(plane);
  const fu = new Float32Array(plane);
  const fd = new Float32Array(plane);
  for (let b = 0; b < B; b++) {
    const off = b * plane;
    // Every pixel outside the box [y0, y1] × [x0, x1] of the unseeded ones is a seed: its x is
    // fixed and its r, p, q, z are 0, so the loops visit the box only. The sums meet the same
    // non-zero terms in the same order (a skipped term is an exact 0): the result is that of a
    // walk over the whole plane, bit for bit, and a walk bounded to a small organ's box is cheap.
    let y0 = H;
    let y1 = -1;
    let x0 = W;
    let x1 = -1;
    for (let i = 0; i < plane; i++) {
      const seed = seeds[off + i]!;
      freeMask[i] = seed === SEED_NONE ? 1 : 0;
      x[i] = seed === SEED_FOREGROUND ? 1 : 0;
      if (seed === SEED_NONE) {
        const yy = (i / W) | 0;
        const xx = i - yy * W;
        if (yy < y0) y0 = yy;
        y1 = yy;
        if (xx < x0) x0 = xx;
        if (xx > x1) x1 = xx;
      }
    }
    if (y1 < 0) {
      // Nothing to solve: every pixel is a seed.
      iterations.push(0);
      for (let i = 0; i < plane; i++) probability[off + i] = x[i]!;
      continue;
    }
    r.fill(0);
    p.fill(0);
    q.fill(0);
    z.fill(0);
    diag.fill(1);
    const scale = edgeScale(image.subarray(off, off + plane), o.beta);
    const weight = (i: number, j: number) => edgeWeight(image[off + i]!, image[off + j]!, scale);
    for (let y = y0; y <= y1; y++) {
      for (let xx = x0; xx <= x1; xx++) {
        const i = y * W + xx;
        wl[i] = xx > 0 ? weight(i - 1, i) : 0;
        wr[i] = xx + 1 < W ? weight(i, i + 1) : 0;
        wu[i] = y > 0 ? weight(i - W, i) : 0;
        wd[i] = y + 1 < H ? weight(i, i + W) : 0;
        fl[i] = xx > 0 && freeMask[i - 1] ? wl[i]! : 0;
        fr[i] = xx + 1 < W && freeMask[i + 1] ? wr[i]! : 0;
        fu[i] = y > 0 && freeMask[i - W] ? wu[i]! : 0;
        fd[i] = y + 1 < H && freeMask[i + W] ? wd[i]! : 0;
      }
    }
    // out = A·v on the unseeded pixels of the box (0 on seeds); returns v·out. A box off the
    // plane's borders reads every neighbour without a check (a missing one has weight 0).
    const inner = x0 > 0 && x1 < W - 1;
    // p = z + β·p over one row of the box.
    const updateRow = (y: number, beta: number) => {
      for (let i = y * W + x0, end = y * W + x1; i <= end; i++) p[i] = z[i]! + beta * p[i]!;
    };
    // With `beta`, v (= p) gets CG's update row by row just ahead of the rows that read it (a row
    // reads its neighbours above and below): the same values, one sweep over the box fewer.
    const apply = (v: Float64Array, out: Float64Array, beta?: number): number => {
      let dot = 0;
      if (beta !== undefined) updateRow(y0, beta);
      for (let y = y0; y <= y1; y++) {
        if (beta !== undefined && y < y1) updateRow(y + 1, beta);
        const row = y * W;
        if (inner && y > 0 && y < H - 1) {
          for (let i = row + x0, end = row + x1; i <= end; i++) {
            const acc = freeMask[i] ? diag[i]! * v[i]! - fl[i]! * v[i - 1]! - fr[i]! * v[i + 1]! - fu[i]! * v[i - W]! - fd[i]! * v[i + W]! : 0;
            out[i] = acc;
            dot += v[i]! * acc;
          }
          continue;
        }
        const firstRow = y === 0;
        const lastRow = y === H - 1;
        for (let i = row + x0, end = row + x1; i <= end; i++) {
          let acc = 0;
          if (freeMask[i]) {
            acc = diag[i]! * v[i]!;
            // A missing neighbour has weight 0; the guards keep the reads inside the plane.
            acc -= fl[i]! * (fl[i] ? v[i - 1]! : 0);
            acc -= fr[i]! * (fr[i] ? v[i + 1]! : 0);
            if (!firstRow) acc -= fu[i]! * v[i - W]!;
            if (!lastRow) acc -= fd[i]! * v[i + W]!;
          }
          out[i] = acc;
          dot += v[i]! * acc;
        }
      }
      return dot;
    };
    const fg = (j: number) => (seeds[off + j] === SEED_FOREGROUND ? 1 : 0);
    let bnorm = 0;
    for (let y = y0; y <= y1; y++) {
      for (let xx = x0; xx <= x1; xx++) {
        const i = y * W + xx;
        if (!freeMask[i]) continue;
        diag[i] = o.gamma + wl[i]! + wr[i]! + wu[i]! + wd[i]!;
        const rhs =
          o.gamma * prior[off + i]! +
          wl[i]! * (xx > 0 ? fg(i - 1) : 0) +
          wr[i]! * (xx + 1 < W ? fg(i + 1) : 0) +
          wu[i]! * (y > 0 ? fg(i - W) : 0) +
          wd[i]! * (y + 1 < H ? fg(i + W) : 0);
        r[i] = rhs; // b, for now
        bnorm += rhs * rhs;
        x[i] = prior[off + i]!;
      }
    }
    bnorm = Math.sqrt(bnorm);
    // r = b − A·x
    apply(x, q);
    // z = r / diag (Jacobi) is recomputed where it is needed rather than stored; ‖r‖² is summed
    // in the loop that updates r. The sums run in pixel order, so they are those of separate loops.
    let rz = 0;
    let rr = 0;
    for (let y = y0; y <= y1; y++) {
      for (let i = y * W + x0, end = y * W + x1; i <= end; i++) {
        r[i] = freeMask[i] ? r[i]! - q[i]! : 0;
        const zi = r[i]! / diag[i]!;
        p[i] = zi;
        rz += r[i]! * zi;
        rr += r[i]! * r[i]!;
      }
    }
    let it = 0;
    // CG's β of the previous iteration, applied to p inside the next apply (none before the first).
    let betaCg: number | undefined;
    for (; it < o.maxIterations; it++) {
      if (Math.sqrt(rr) <= o.tolerance * Math.max(bnorm, 1e-30)) break;
      const pq = apply(p, q, betaCg);
      if (pq <= 0) break;
      const alpha = rz / pq;
      let rzNext = 0;
      rr = 0;
      for (let y = y0; y <= y1; y++) {
        for (let i = y * W + x0, end = y * W + x1; i <= end; i++) {
          x[i]! += alpha * p[i]!;
          const ri = (r[i]! -= alpha * q[i]!);
          const zi = (z[i] = ri / diag[i]!); // z = r / diag, kept for p's update
          rzNext += ri * zi;
          rr += ri * ri;
        }
      }
      betaCg = rzNext / rz;
      rz = rzNext;
    }
    iterations.push(it);
    for (let i = 0; i < plane; i++) probability[off + i] = Math.min(1, Math.max(0, x[i]!));
  }
  return { probability, iterations };
}
