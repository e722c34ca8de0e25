/**
 * NumPy .npy (format 1.0) for the `--dump` files: little-endian float32 / uint8 / int32 arrays
 * with a C-order shape, readable by `numpy.load`.
 */
type NpyArray = Float32Array | Uint8Array | Int32Array;

const DESCR = new Map<string, string>([
  ['Float32Array', '<f4'],
  ['Uint8Array', '|u1'],
  ['Int32Array', '<i4'],
]);

export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape [${shape.join(', ')}] holds ${count} values, the array has ${data.length}`);
  const descr = DESCR.get(data.constructor.name);
  if (!descr) throw new Error(`npy: unsupported array type ${data.constructor.name}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}

export interface DecodedNpy {
  data: NpyArray;
  shape: number[];
}

export function decodeNpy(bytes: Uint8Array): DecodedNpy {
  if (bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw new Error('npy: not a .npy file (bad magic)');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset).getUint16(8, true);
  const header = String.fromCharCode(...bytes.subarray(10, 10 + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new Error('npy: Fortran-order arrays are not supported');
  const body = bytes.slice(10 + headerLength);
  const data =
    descr === '<f4' ? new Float32Array(body.buffer) : descr === '|u1' ? new Uint8Array(body.buffer) : descr === '<i4' ? new Int32Array(body.buffer) : null;
  if (!data) throw new Error(`npy: unsupported dtype ${descr}`);
  return { data, shape };
}
