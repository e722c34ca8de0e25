/**
 * A procedural abdominal phantom: "patients" whose body, liver, spleen, kidneys, spine and
 * bowel vary in shape, position, contrast, bias field and noise, drawn from a seed. It gives
 * `synpo demo` and the tests a data set with exact labels and no files. Labels follow the
 * CHAOS convention: 1 liver, 2 right kidney, 3 left kidney, 4 spleen. The patient's right is
 * the image's left, as in radiological display.
 */
import { createRng, type Rng } from '@synpo/gpu';
import type { Volume } from '@synpo/io';

export const PHANTOM_LABELS = { liver: 1, 'right-kidney': 2, 'left-kidney': 3, spleen: 4 } as const;

export interface PhantomOptions {
  size: number;
  slices: number;
  noise: number;
}

export const PHANTOM_DEFAULTS: PhantomOptions = { size: 256, slices: 28, noise: 0.04 };

interface Blob {
  cx: number;
  cy: number;
  cz: number;
  rx: number;
  ry: number;
  rz: number;
  angle: number;
  /** Lobulation: radius modulation amplitude and phase. */
  wobble: number;
  phase: number;
  value: number;
  label: number;
}

const jitter = (rng: Rng, v: number, spread: number) => v + (rng() * 2 - 1) * spread;

function inside(b: Blob, x: number, y: number, z: number): boolean {
  const w = (z - b.cz) / b.rz;
  if (w * w > (1 + b.wobble) ** 2) return false;
  const dx = x - b.cx;
  const dy = y - b.cy;
  const c = Math.cos(b.angle);
  const s = Math.sin(b.angle);
  const u = (c * dx + s * dy) / b.rx;
  const v = (-s * dx + c * dy) / b.ry;
  const r = 1 + b.wobble * Math.sin(3 * Math.atan2(v, u) + b.phase);
  return u * u + v * v + w * w <= r * r;
}

/** One patient: image in [0, 1] and labels, as volumes of size × size × slices. */
export function phantomPatient(seed: number, options: Partial<PhantomOptions> = {}): { image: Volume; labels: Volume } {
  const o = { ...PHANTOM_DEFAULTS, ...options };
  const rng = createRng(seed, 11);
  const N = o.size;
  const Z = o.slices;
  const k = N / 256; // every length below is for a 256-pixel slice
  const contrast = jitter(rng, 1, 0.15);
  const dx = jitter(rng, 0, 10) * k;
  const dy = jitter(rng, 0, 8) * k;
  const organs: Blob[] = [
    // Liver: large, patient's right (image left), upper abdomen.
    {
      cx: 88 * k + dx,
      cy: 118 * k + dy,
      cz: Z * jitter(rng, 0.58, 0.05),
      rx: jitter(rng, 62, 8) * k,
      ry: jitter(rng, 54, 6) * k,
      rz: Z * jitter(rng, 0.36, 0.04),
      angle: jitter(rng, 0.3, 0.15),
      wobble: jitter(rng, 0.08, 0.04),
      phase: rng() * 6,
      value: 0.55 * contrast,
      label: 1,
    },
    // Spleen: patient's left (image right), posterior.
    {
      cx: 190 * k + dx,
      cy: 128 * k + dy,
      cz: Z * jitter(rng, 0.62, 0.05),
      rx: jitter(rng, 22, 4) * k,
      ry: jitter(rng, 34, 5) * k,
      rz: Z * jitter(rng, 0.22, 0.03),
      angle: jitter(rng, -0.5, 0.2),
      wobble: jitter(rng, 0.06, 0.03),
      phase: rng() * 6,
      value: 0.68 * contrast,
      label: 4,
    },
    // Kidneys: beside the spine, lower.
    {
      cx: 96 * k + dx,
      cy: 172 * k + dy,
      cz: Z * jitter(rng, 0.38, 0.05),
      rx: jitter(rng, 17, 3) * k,
      ry: jitter(rng, 25, 3) * k,
      rz: Z * jitter(rng, 0.2, 0.03),
      angle: jitter(rng, 0.35, 0.15),
      wobble: 0.04,
      phase: rng() * 6,
      value: 0.78 * contrast,
      label: 2,
    },
    {
      cx: 160 * k + dx,
      cy: 172 * k + dy,
      cz: Z * jitter(rng, 0.4, 0.05),
      rx: jitter(rng, 17, 3) * k,
      ry: jitter(rng, 25, 3) * k,
      rz: Z * jitter(rng, 0.2, 0.03),
      angle: jitter(rng, -0.35, 0.15),
      wobble: 0.04,
      phase: rng() * 6,
      value: 0.78 * contrast,
      label: 3,
    },
  ];
  const distractors: Blob[] = [
    // Spine and aorta: bright, unlabelled.
    { cx: 128 * k + dx, cy: 186 * k + dy, cz: Z / 2, rx: 14 * k, ry: 14 * k, rz: Z, angle: 0, wobble: 0, phase: 0, value: 0.95, label: 0 },
    { cx: 136 * k + dx, cy: 156 * k + dy, cz: Z / 2, rx: 7 * k, ry: 7 * k, rz: Z, angle: 0, wobble: 0, phase: 0, value: 0.85, label: 0 },
    // Bowel loops: random bright and dark blobs in the lower middle.
    ...Array.from({ length: 5 }, (): Blob => ({
      cx: jitter(rng, 140, 30) * k + dx,
      cy: jitter(rng, 110, 25) * k + dy,
      cz: Z * jitter(rng, 0.3, 0.2),
      rx: jitter(rng, 12, 4) * k,
      ry: jitter(rng, 10, 4) * k,
      rz: Z * 0.15,
      angle: rng() * 3,
      wobble: 0.1,
      phase: rng() * 6,
      value: rng() < 0.5 ? 0.25 : 0.72,
      label: 0,
    })),
  ];
  const body = { rx: jitter(rng, 112, 6) * k, ry: jitter(rng, 86, 5) * k, cx: 128 * k + dx / 2, cy: 132 * k + dy / 2 };
  const bias = { ax: jitter(rng, 0, 0.12), ay: jitter(rng, 0, 0.12) };
  const noise = createRng(seed, 12);
  const image = new Float32Array(N * N * Z);
  const labels = new Float32Array(N * N * Z);
  for (let z = 0; z < Z; z++) {
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        const i = (z * N + y) * N + x;
        const bx = (x - body.cx) / body.rx;
        const by = (y - body.cy) / body.ry;
        const r2 = bx * bx + by * by;
        let v = 0.02;
        if (r2 <= 1) {
          v = r2 > 0.86 ? 0.8 : 0.34; // subcutaneous fat ring, then soft tissue
          for (const b of distractors) if (inside(b, x, y, z)) v = b.value;
          for (const b of organs) {
            if (inside(b, x, y, z)) {
              v = b.value;
              labels[i] = b.label;
            }
          }
          v *= 1 + bias.ax * ((x / N) * 2 - 1) + bias.ay * ((y / N) * 2 - 1);
        }
        // Box–Muller noise.
        const g = Math.sqrt(-2 * Math.log(Math.max(noise(), 1e-12))) * Math.cos(2 * Math.PI * noise());
        image[i] = Math.min(1, Math.max(0, v + o.noise * g));
      }
    }
  }
  const affine = [
    [-1.5, 0, 0, 190],
    [0, -1.5, 0, 190],
    [0, 0, 5, 0],
    [0, 0, 0, 1],
  ];
  const base = { dims: [N, N, Z] as [number, number, number], spacing: [1.5, 1.5, 5] as [number, number, number], affine };
  return {
    image: { ...base, data: image, source: `phantom-${seed}-image` },
    labels: { ...base, data: labels, source: `phantom-${seed}-labels` },
  };
}
