/**
 * NRRD (teem's format, which 3D Slicer and ITK read natively): masks written with the query's
 * geometry as `space: left-posterior-superior`, `space directions` and `space origin` (the
 * volume's RAS affine turned to LPS), gzip-encoded with no time in the gzip header; and NRRD
 * volumes read (attached data; raw or gzip; the scalar types; LPS or RAS space).
 */
import { gzipSync } from 'fflate';
import { ImageFileError } from './errors.ts';
import { gunzipChecked } from './gzip.ts';
import type { Volume } from './volume.ts';

const fmt = (v: number) => (Object.is(v, -0) ? '0' : String(+v.toPrecision(10)));
const vector = (v: number[]) => `(${v.map(fmt).join(',')})`;

/** A label volume with `like`'s grid and geometry: uint8, or uint16 when a value is above 255. */
export function encodeNrrdMask(labels: Uint8Array | Uint16Array, like: Volume, gzip = true): Uint8Array {
  const [nx, ny, nz] = like.dims;
  if (labels.length !== nx * ny * nz) throw new RangeError(`mask has ${labels.length} voxels, ${like.source} has ${nx}×${ny}×${nz}`);
  let max = 0;
  for (let i = 0; i < labels.length; i++) max = labels[i]! > max ? labels[i]! : max;
  const wide = max > 255;
  // RAS → LPS: negate the first two world rows.
  const lps = like.affine.slice(0, 3).map((row, r) => row.map((v) => (r < 2 ? -v : v)));
  const header = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    '# written by synpo',
    `type: ${wide ? 'uint16' : 'uint8'}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${nx} ${ny} ${nz}`,
    `space directions: ${[0, 1, 2].map((j) => vector([0, 1, 2].map((r) => lps[r]![j]!))).join(' ')}`,
    'kinds: domain domain domain',
    'endian: little',
    `encoding: ${gzip ? 'gzip' : 'raw'}`,
    `space origin: ${vector([0, 1, 2].map((r) => lps[r]![3]!))}`,
    '',
    '',
  ].join('\n');
  const raw = wide ? new Uint8Array(Uint16Array.from(labels).buffer) : labels instanceof Uint8Array ? labels : Uint8Array.from(labels);
  const body = gzip ? gzipSync(raw, { mtime: 0 }) : raw;
  const head = new TextEncoder().encode(header);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const TYPES: Record<string, { ctor: new (b: ArrayBuffer) => ArrayLike<number>; bytes: number }> = {
  int8: { ctor: Int8Array, bytes: 1 },
  uint8: { ctor: Uint8Array, bytes: 1 },
  int16: { ctor: Int16Array, bytes: 2 },
  uint16: { ctor: Uint16Array, bytes: 2 },
  int32: { ctor: Int32Array, bytes: 4 },
  uint32: { ctor: Uint32Array, bytes: 4 },
  float: { ctor: Float32Array, bytes: 4 },
  double: { ctor: Float64Array, bytes: 8 },
};
const TYPE_ALIASES: Record<string, string> = {
  'signed char': 'int8',
  int8_t: 'int8',
  uchar: 'uint8',
  'unsigned char': 'uint8',
  uint8_t: 'uint8',
  short: 'int16',
  'short int': 'int16',
  'signed short': 'int16',
  int16_t: 'int16',
  ushort: 'uint16',
  'unsigned short': 'uint16',
  uint16_t: 'uint16',
  int: 'int32',
  'signed int': 'int32',
  int32_t: 'int32',
  uint: 'uint32',
  'unsigned int': 'uint32',
  uint32_t: 'uint32',
};

/** Parses a .nrrd held in memory; `file` names it in errors. */
export function decodeNrrd(bytes: Uint8Array, file: string): Volume {
  if (bytes.length === 0) throw new ImageFileError(file, 'is empty (0 bytes)');
  const magic = String.fromCharCode(...bytes.subarray(0, 7));
  if (magic !== 'NRRD000') throw new ImageFileError(file, 'not a NRRD file (no NRRD000x magic)');
  // The header ends at the first blank line.
  let end = -1;
  for (let i = 0; i + 1 < bytes.length; i++)
    if (bytes[i] === 10 && bytes[i + 1] === 10) {
      end = i;
      break;
    }
  if (end < 0) throw new ImageFileError(file, 'the NRRD header has no end (no blank line); detached-header files are not read');
  const fields = new Map<string, string>();
  for (const line of new TextDecoder().decode(bytes.subarray(0, end)).split('\n').slice(1)) {
    if (line.startsWith('#') || !line.includes(':')) continue;
    const at = line.indexOf(':');
    fields.set(
      line.slice(0, at).trim().toLowerCase(),
      line
        .slice(at + 1)
        .replace(/^=/, '')
        .trim(),
    );
  }
  const need = (k: string) => {
    const v = fields.get(k);
    if (v === undefined) throw new ImageFileError(file, `the NRRD header has no "${k}" field`);
    return v;
  };
  if (fields.has('data file') || fields.has('datafile'))
    throw new ImageFileError(file, 'detached NRRD data (a "data file" field) is not read; use a single .nrrd');
  const typeName = TYPE_ALIASES[need('type')] ?? need('type');
  const type = TYPES[typeName];
  if (!type) throw new ImageFileError(file, `NRRD type "${need('type')}" is not a scalar type SynPo reads`);
  const dimension = Number(need('dimension'));
  const sizes = need('sizes').split(/\s+/).map(Number);
  if (dimension < 2 || dimension > 3 || sizes.length !== dimension || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new ImageFileError(file, `NRRD sizes "${need('sizes')}": SynPo reads 2-D and 3-D scalar volumes`);
  }
  const dims = [sizes[0]!, sizes[1]!, sizes[2] ?? 1] as [number, number, number];
  const count = dims[0] * dims[1] * dims[2];
  const encoding = need('encoding');
  let body = bytes.subarray(end + 2);
  if (encoding === 'gzip' || encoding === 'gz') body = gunzipChecked(body, file);
  else if (encoding !== 'raw') throw new ImageFileError(file, `NRRD encoding "${encoding}" is not read (raw and gzip are)`);
  if (body.length < count * type.bytes) throw new ImageFileError(file, `the image data is truncated: ${body.length} bytes for ${count} ${typeName} voxels`);
  const copy = body.slice(0, count * type.bytes);
  if ((fields.get('endian') ?? 'little') === 'big' && type.bytes > 1)
    for (let i = 0; i < copy.length; i += type.bytes) copy.subarray(i, i + type.bytes).reverse();
  const typed = new type.ctor(copy.buffer);
  const data = Float32Array.from({ length: count }, (_, i) => typed[i]!);
  // Geometry: space directions and origin, in LPS or RAS.
  const space = (fields.get('space') ?? 'left-posterior-superior').toLowerCase();
  const toRas =
    space === 'right-anterior-superior' || space === 'ras' ? [1, 1, 1] : space === 'left-posterior-superior' || space === 'lps' ? [-1, -1, 1] : null;
  if (!toRas) throw new ImageFileError(file, `NRRD space "${space}" is not read (left-posterior-superior and right-anterior-superior are)`);
  const parse = (v: string) => (/\(([^)]*)\)/.exec(v)?.[1] ?? '').split(',').map(Number);
  const directions = fields.has('space directions')
    ? [...need('space directions').matchAll(/\([^)]*\)|none/g)]
        .map((m) => m[0])
        .filter((m) => m !== 'none')
        .map(parse)
    : [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
      ];
  while (directions.length < 3) directions.push([0, 0, 1]);
  const origin = fields.has('space origin') ? parse(need('space origin')) : [0, 0, 0];
  const affine = [0, 1, 2].map((r) => [directions[0]![r]! * toRas[r]!, directions[1]![r]! * toRas[r]!, directions[2]![r]! * toRas[r]!, origin[r]! * toRas[r]!]);
  if (!affine.flat().every(Number.isFinite)) throw new ImageFileError(file, 'the NRRD space directions or origin are not numbers');
  const spacing = [0, 1, 2].map((j) => Math.hypot(directions[j]![0]!, directions[j]![1]!, directions[j]![2]!) || 1) as [number, number, number];
  return { data, dims, spacing, affine: [...affine, [0, 0, 0, 1]], source: file };
}
