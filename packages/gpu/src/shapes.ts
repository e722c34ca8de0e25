/**
 * Shapes and validation shared by the kernels' definitions and their CPU references: every check
 * runs before anything touches the GPU, and both paths reject the same inputs with the same words.
 * A check takes a host array or a tensor: a tensor's length is its shape's, and its values are
 * checked only where they are on the host (a device tensor's stay on the device).
 */
import { elementCount, HostTensor, type Tensor } from './tensor.ts';

/** Values to check: a host array, or a tensor (host or device). */
export type Values = ArrayLike<number> | Tensor;

export const lengthOf = (v: Values): number => ('shape' in v && Array.isArray(v.shape) ? elementCount(v.shape) : (v as ArrayLike<number>).length);
export const hostValues = (v: Values): ArrayLike<number> | null => (v instanceof HostTensor ? v.data : 'shape' in v ? null : (v as ArrayLike<number>));

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

export function length(kernel: string, name: string, values: Values, expected: number): void {
  const n = lengthOf(values);
  if (n !== expected) {
    throw new ShapeError(kernel, `${name} has ${n} values, the shape needs ${expected}`);
  }
}

/** NaN or ±Inf would poison every reduction downstream; name the first offender. */
export function finite(kernel: string, name: string, values: Values): void {
  const array = hostValues(values);
  if (!array) return;
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
