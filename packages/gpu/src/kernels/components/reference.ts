/** CPU reference of kernels/components.wgsl: connected components with size and value sums. */
import { finite, imageShape, length, ShapeError, type ImageShape, type Values } from '../../shapes.ts';
import { scratch } from '../../scratch.ts';

export type Connectivity = 4 | 8;

/** 0xffffffff: "no component", a background pixel's root and a row's best root when it has none. */
export const NO_COMPONENT = 0xffffffff;

export interface Component {
  /** 1-based, in row-major order of each component's first pixel. */
  label: number;
  /** Row-major index of the component's first pixel. */
  first: number;
  size: number;
  /** Sum of the value map over the component. */
  sum: number;
  /** sum / size: with a confidence map, NRM's component score. */
  mean: number;
}

export interface Components {
  /** 0 for background, else the component's label. */
  labels: Int32Array;
  components: Component[];
}

export function validateComponents(masks: Values, values: Values | null, s: ImageShape, connectivity: Connectivity): void {
  imageShape('components', s);
  length('components', 'masks', masks, s.B * s.H * s.W);
  if (values) {
    length('components', 'values', values, s.B * s.H * s.W);
    finite('components', 'values', values);
  }
  if (connectivity !== 4 && connectivity !== 8) {
    throw new ShapeError('components', `connectivity must be 4 or 8, got ${String(connectivity)}`);
  }
}

/** Builds the per-slice result from root indices (each pixel's component's first pixel). */
export function componentsFromRoots(roots: ArrayLike<number>, sizes: ArrayLike<number>, sums: ArrayLike<number>, plane: number, offset: number): Components {
  const labels = new Int32Array(plane);
  const components: Component[] = [];
  const labelOfRoot = new Map<number, number>();
  for (let i = 0; i < plane; i++) {
    const root = roots[offset + i]!;
    if (root === NO_COMPONENT || root < 0) continue;
    let label = labelOfRoot.get(root);
    if (label === undefined) {
      label = components.length + 1;
      labelOfRoot.set(root, label);
      const size = sizes[offset + root]!;
      const sum = sums[offset + root]!;
      components.push({ label, first: root, size, sum, mean: sum / size });
    }
    labels[i] = label;
  }
  return { labels, components };
}

export function componentsReference(masks: Uint8Array, values: Float32Array | null, s: ImageShape, connectivity: Connectivity): Components[] {
  validateComponents(masks, values, s, connectivity);
  const plane = s.H * s.W;
  const { roots, sizes, sums } = label(masks, values, s, connectivity);
  return Array.from({ length: s.B }, (_, b) => componentsFromRoots(roots, sizes, sums, plane, b * plane));
}

/**
 * The kernel's labels as it leaves them: per pixel its component's root (the component's first
 * pixel, row-major, within its slice) or NO_COMPONENT, and per root the component's size (0 at
 * every other pixel).
 */
export function componentLabelsReference(masks: Uint8Array, s: ImageShape, connectivity: Connectivity): { roots: Uint32Array; sizes: Uint32Array } {
  validateComponents(masks, null, s, connectivity);
  const { roots, sizes } = label(masks, null, s, connectivity);
  // label() sets the sizes at roots only: a root is the pixel whose root is itself.
  const plane = s.H * s.W;
  return {
    roots: Uint32Array.from(roots, (r) => (r < 0 ? NO_COMPONENT : r)),
    sizes: Uint32Array.from(roots, (r, i) => (r === i % plane ? sizes[i]! : 0)),
  };
}

/**
 * Per pixel its component's root within its slice (-1 for background); per root, the
 * component's size and value sum (set at roots only: the arrays are scratch, see scratch.ts).
 */
function label(masks: Uint8Array, values: Float32Array | null, s: ImageShape, connectivity: Connectivity) {
  const { B, H, W } = s;
  const plane = H * W;
  const roots = scratch('components:roots', Int32Array, B * plane).fill(-1);
  const sizes = scratch('components:sizes', Float64Array, B * plane);
  const sums = scratch('components:sums', Float64Array, B * plane);
  const stack: number[] = [];
  const neighbours =
    connectivity === 8
      ? [
          [-1, -1],
          [0, -1],
          [1, -1],
          [-1, 0],
          [1, 0],
          [-1, 1],
          [0, 1],
          [1, 1],
        ]
      : [
          [0, -1],
          [-1, 0],
          [1, 0],
          [0, 1],
        ];
  for (let b = 0; b < B; b++) {
    const o = b * plane;
    for (let start = 0; start < plane; start++) {
      if (!masks[o + start] || roots[o + start]! >= 0) continue;
      // Row-major scan: the first unvisited pixel is the component's smallest index, its root.
      roots[o + start] = start;
      sizes[o + start] = 0;
      sums[o + start] = 0;
      stack.push(start);
      while (stack.length) {
        const i = stack.pop()!;
        sizes[o + start]!++;
        sums[o + start]! += values ? values[o + i]! : 0;
        const x = i % W;
        const y = (i - x) / W;
        for (const [dx, dy] of neighbours) {
          const xx = x + dx!;
          const yy = y + dy!;
          if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
          const j = yy * W + xx;
          if (masks[o + j] && roots[o + j]! < 0) {
            roots[o + j] = start;
            stack.push(j);
          }
        }
      }
    }
  }
  return { roots, sizes, sums };
}
