/**
 * Numeric command-line options, checked when parsed: a seed of 'abc' or a count of -1 is a usage
 * error naming the option and the accepted range, never a NaN that runs anyway.
 */
import { CliError, EXIT } from './errors.ts';

interface Range {
  min?: number;
  max?: number;
}

const describe = ({ min, max }: Range) =>
  min !== undefined && max !== undefined ? `from ${min} to ${max}` : min !== undefined ? `≥ ${min}` : max !== undefined ? `≤ ${max}` : '';

function inRange(name: string, n: number, v: string, range: Range, kind: string): number {
  if ((range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw new CliError(`${name} must be ${kind} ${describe(range)}, got '${v}'`, EXIT.usage);
  }
  return n;
}

/** A whole number written in decimal digits (an optional minus sign), within `range`. */
export function parseInteger(name: string, v: string, range: Range = {}): number {
  const kind = range.min !== undefined && range.min >= 0 ? 'a whole number' : 'an integer';
  if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v))) {
    throw new CliError(`${name} must be ${kind}${describe(range) ? ` ${describe(range)}` : ''}, got '${v}'`, EXIT.usage);
  }
  return inRange(name, Number(v), v, range, kind);
}

/** A finite decimal number, within `range`. */
export function parseNumber(name: string, v: string, range: Range = {}): number {
  const n = v.trim() === '' ? Number.NaN : Number(v);
  if (!Number.isFinite(n)) throw new CliError(`${name} must be a number${describe(range) ? ` ${describe(range)}` : ''}, got '${v}'`, EXIT.usage);
  return inRange(name, n, v, range, 'a number');
}

/** Commander argument parsers. */
export const integer = (name: string, range: Range = {}) => (v: string) => parseInteger(name, v, range);
export const decimal = (name: string, range: Range = {}) => (v: string) => parseNumber(name, v, range);

/** Seeds are 32-bit: the random generators take them modulo 2³². */
export const SEED = { min: 0, max: 2 ** 32 - 1 } as const;
