/** CPU reference of kernels/synergy.wgsl: the Hadamard fusion of two confidence maps. */
import { finite, length, lengthOf, ShapeError, type Values } from '../../shapes.ts';

/** δSD + δS + δD = 1; the paper's values are 0.8, 0.1, 0.1. */
export interface SynergyWeights {
  both: number;
  sam: number;
  dino: number;
}

export function validateSynergy(a: Values, b: Values, w: SynergyWeights): void {
  const n = lengthOf(a);
  if (n === 0) throw new ShapeError('synergy', 'the maps are empty');
  length('synergy', 'second map', b, n);
  for (const [name, v] of Object.entries(w)) {
    if (!Number.isFinite(v)) throw new ShapeError('synergy', `weight ${name} is ${v}`);
  }
  finite('synergy', 'first map', a);
  finite('synergy', 'second map', b);
}

export function synergyReference(a: Float32Array, b: Float32Array, w: SynergyWeights): Float32Array {
  validateSynergy(a, b, w);
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = w.both * (a[i]! * b[i]!) + w.sam * a[i]! + w.dino * b[i]!;
  return out;
}
