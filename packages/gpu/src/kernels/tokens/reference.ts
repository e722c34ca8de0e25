/** CPU reference of kernels/tokens.wgsl: ViT tokens [B][T][C] → a channel-first grid [B][C][cells]. */
import { length, positiveInt, ShapeError, type Values } from '../../shapes.ts';

export interface TokenShape {
  B: number;
  /** Tokens per image: skip + cells. */
  T: number;
  C: number;
  /** Leading tokens dropped (CLS and register tokens). */
  skip: number;
  /** Patch tokens kept: g·g. */
  cells: number;
}

export function validateTokens(tokens: Values, s: TokenShape): void {
  for (const k of ['B', 'T', 'C', 'cells'] as const) positiveInt('tokens', k, s[k]);
  if (!Number.isInteger(s.skip) || s.skip < 0 || s.skip + s.cells !== s.T) {
    throw new ShapeError('tokens', `${s.skip} leading + ${s.cells} patch tokens do not make the ${s.T} tokens of an image`);
  }
  length('tokens', 'tokens', tokens, s.B * s.T * s.C);
}

export function tokensToGridReference(tokens: ArrayLike<number>, s: TokenShape): Float32Array {
  validateTokens(tokens, s);
  const out = new Float32Array(s.B * s.C * s.cells);
  for (let b = 0; b < s.B; b++) {
    for (let i = 0; i < s.cells; i++) {
      const row = (b * s.T + s.skip + i) * s.C;
      for (let c = 0; c < s.C; c++) out[(b * s.C + c) * s.cells + i] = tokens[row + c]!;
    }
  }
  return out;
}
