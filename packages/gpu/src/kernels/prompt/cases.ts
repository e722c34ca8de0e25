import { discMask, host, kernelCase, randomArray } from '../cases.ts';
import { decoderInputs } from './index.ts';

const B = 2;
const S = 256;
const P = 3;
// Row 0: a box and three points (the negative first); row 1: no box, one valid point.
const prompts = Float32Array.of(60, 200, 40, 180, 100, 50, 0, 1, 130, 110, 1, 1, 90, 90, 1, 1, 1, 0, 0, 0, 10, 250, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);

export const cases = [
  { name: 'a prior, no mask prompt', prior: true, mask: false },
  { name: 'a prior and a mask prompt', prior: true, mask: true },
  { name: 'neither: the box and the points alone', prior: false, mask: false },
].map((c) =>
  kernelCase({
    kernel: decoderInputs,
    name: c.name,
    inputs: () => {
      const mask = new Uint8Array(B * S * S);
      mask.set(discMask(S, S, 120, 100, 40), 0);
      return {
        image: host('f32', [B, S * S], randomArray(B * S * S, 11, 0, 1)),
        prior: c.prior ? host('f32', [B, S * S], randomArray(B * S * S, 12, 0, 1)) : null,
        maskPrompt: c.mask ? host('mask', [B, S * S], mask) : null,
        prompts: host('f32', [B, 1 + P, 4], prompts),
      };
    },
    params: { B, H: S, W: S, P, factor: 2, maskWeight: 0.5, background: 0.15, radius: 2 },
    tolerance: { atol: 1e-6, rtol: 1e-5 },
  }),
);
