import { discMask, host, kernelCase, randomArray, randomMask } from '../cases.ts';
import { downsampleMask, upsampleBilinear } from './index.ts';

export const cases = [
  ...[
    { B: 1, inH: 1, inW: 1, outH: 5, outW: 3 },
    { B: 2, inH: 64, inW: 64, outH: 256, outW: 256 },
    { B: 1, inH: 7, inW: 13, outH: 30, outW: 41 },
  ].map((s) =>
    kernelCase({
      kernel: upsampleBilinear,
      name: `${s.inH}×${s.inW} → ${s.outH}×${s.outW} (B=${s.B})`,
      inputs: () => ({ maps: host('f32', [s.B, s.inH * s.inW], randomArray(s.B * s.inH * s.inW, 12)) }),
      params: s,
      tolerance: { atol: 1e-5, rtol: 1e-5 },
    }),
  ),
  ...[
    { name: 'disc 256 → 64', s: { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 }, mask: () => discMask(256, 256, 100, 140, 40) },
    { name: 'thin line (any overlap counts)', s: { B: 1, inH: 256, inW: 256, outH: 64, outW: 64 }, mask: () => discMask(256, 256, 10, 10, 1) },
    { name: 'empty mask', s: { B: 1, inH: 8, inW: 8, outH: 2, outW: 2 }, mask: () => new Uint8Array(64) },
    { name: 'batch of random masks, 1×1 output', s: { B: 3, inH: 4, inW: 6, outH: 1, outW: 1 }, mask: () => randomMask(72, 13, 0.4) },
  ].map(({ name, s, mask }) => kernelCase({ kernel: downsampleMask, name, inputs: () => ({ masks: host('mask', [s.B, s.inH * s.inW], mask()) }), params: s })),
];
