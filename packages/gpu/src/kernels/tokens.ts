/** GPU wrapper of kernels/tokens.wgsl. */
import type { TokenShape } from '../reference/tokens.ts';
import type { Slot } from '../buffer-pool.ts';
import type { KernelSpec } from '../pipeline-cache.ts';
import { grid, type Recorder } from '../runtime.ts';
import type { DeviceTensor } from '../tensor.ts';
import { u32 } from '../uniforms.ts';

export const tokensSpec: KernelSpec = {
  name: 'tokens',
  bindings: ['uniform', 'read', 'storage'],
  workgroupSize: 64,
};

export function recordTokensToGrid(rec: Recorder, tokens: Slot, s: TokenShape): DeviceTensor {
  const count = s.B * s.C * s.cells;
  const out = rec.scratch(count * 4, 'tokens:grid', false, 'f32', [s.B, s.C, s.cells]);
  rec.dispatch(tokensSpec, 'to_grid', [tokens, out], grid(count, tokensSpec.workgroupSize), [
    u32(s.B),
    u32(s.T),
    u32(s.C),
    u32(s.skip),
    u32(s.cells),
    u32(0),
    u32(0),
    u32(0),
  ]);
  return out;
}
