/**
 * Shapes and validation shared by the GPU wrappers and the CPU references: every check runs
 * before anything touches the GPU, and both paths reject the same inputs with the same words.
 */

/** B feature grids, channel-first: value (b, c, i) at `(b·C + c)·N + i`, N = H·W cells. */
export interface FeatureShape {
  B: number;
  C: number;
  N: number;
}

/** B images of H×W, row-major. */
export interface ImageShape {
  B: number;
  H: number;
  W: number;
}

export class ShapeError extends Error {
  constructor(kernel: string, message: string) {
    super(`${kernel}: ${message}`);
    this.name = 'ShapeError';
  }
}

export function positiveInt(kernel: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new ShapeError(kernel, `${name} must be a positive integer, got ${value}`);
  }
}

export function length(kernel: string, name: string, array: ArrayLike<number>, expected: number): void {
  if (array.length !== expected) {
    throw new ShapeError(kernel, `${name} has ${array.length} values, the shape needs ${expected}`);
  }
}

/** NaN or ±Inf would poison every reduction downstream; name the first offender. */
export function finite(kernel: string, name: string, array: ArrayLike<number>): void {
  for (let i = 0; i < array.length; i++) {
    if (!Number.isFinite(array[i])) {
      throw new ShapeError(kernel, `${name}[${i}] is ${array[i]}; inputs must be finite (check the encoder output)`);
    }
  }
}

export function featureShape(kernel: string, shape: FeatureShape): void {
  positiveInt(kernel, 'B', shape.B);
  positiveInt(kernel, 'C', shape.C);
  positiveInt(kernel, 'N', shape.N);
}

export function imageShape(kernel: string, shape: ImageShape): void {
  positiveInt(kernel, 'B', shape.B);
  positiveInt(kernel, 'H', shape.H);
  positiveInt(kernel, 'W', shape.W);
}

/** Mirrors the kernels' normalisation: v / max(‖v‖, 1e-12). */
export const NORM_EPS = 1e-12;
