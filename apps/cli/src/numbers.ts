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
export const integer =
  (name: string, range: Range = {}) =>
  (v: string) =>
    parseInteger(name, v, range);
export const decimal =
  (name: string, range: Range = {}) =>
  (v: string) =>
    parseNumber(name, v, range);

/** Seeds are 32-bit: the random generators take them modulo 2³². */
export const SEED = { min: 0, max: 2 ** 32 - 1 } as const;

/**
 * A JSON object of option overrides (`--weight-free '{"gamma": 0.1}'`): only keys of `like`, each
 * of its default's type (numbers finite, arrays of finite numbers).
 */
export function jsonOverrides<T extends object>(name: string, like: T): (v: string) => Partial<T> {
  const defaults = like as Record<string, unknown>;
  return (v: string) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      throw new CliError(`${name} must be a JSON object, got '${v}'`, EXIT.usage);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new CliError(`${name} must be a JSON object, got '${v}'`, EXIT.usage);
    for (const [key, value] of Object.entries(parsed)) {
      const base = defaults[key];
      if (base === undefined) throw new CliError(`${name}: unknown option '${key}' (${Object.keys(defaults).join(', ')})`, EXIT.usage);
      const ok = Array.isArray(base)
        ? Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x))
        : typeof value === typeof base && (typeof value !== 'number' || Number.isFinite(value));
      if (!ok)
        throw new CliError(
          `${name}: '${key}' must be ${Array.isArray(base) ? 'an array of numbers' : `a ${typeof base}`}, like its default ${JSON.stringify(base)}`,
          EXIT.usage,
        );
    }
    return parsed as Partial<T>;
  };
}
