/**
 * The ONNX backend on graphs with the real exports' contracts: loading and checking a model
 * directory, token dropping, grid resizing, the decoder's prompt plumbing, and SynPo end to end,
 * on onnxruntime's cpu and webgpu execution providers.
 */
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuKernels, gpuKernels, GpuRuntime, NoAdapterError, openGpu } from '@synpo/gpu';
import { CELLS, phantomPatient, PIXELS, Synpo } from '../src/index.ts';
import { loadModels, onnxBackend, toModelInput, type ExecutionProvider } from '../src/onnx/index.ts';
import { availableProviders } from '../src/onnx/ort.node.ts';
import { fsSource, pathSource, writeModelDir } from './fixtures/model-dir.ts';

const quiet = () => {};
const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

describe('model directory', () => {
  it('loads and checks the three graphs', async () => {
    const { models, report } = await loadModels(fsSource(writeModelDir()), 'cpu', quiet);
    expect(report.problems).toEqual([]);
    expect(report.models.map((m) => m.role)).toEqual(['dino', 'samEncoder', 'samDecoder']);
    expect(models).not.toBeNull();
  });

  const bad: [string, (dir: string) => string, RegExp][] = [
    [
      'a missing model file',
      (dir) => {
        writeFileSync(
          join(dir, 'manifest.json'),
          JSON.stringify({
            format: 'synpo-models/1',
            dino: { file: 'nope.onnx', channels: 16, size: 112 },
            samEncoder: { file: 'sam2_encoder.onnx' },
            samDecoder: { file: 'sam2_decoder.onnx' },
          }),
        );
        return dir;
      },
      /nope\.onnx: cannot read the dino model/,
    ],
    [
      'a manifest with a wrong input name',
      () =>
        writeModelDir(undefined, (m) => {
          m.dino.input = 'pixels';
        }),
      /dinov2\.onnx: has no input named "pixels" \(inputs: pixel_values\)/,
    ],
    [
      'a manifest whose token count does not match the graph',
      () =>
        writeModelDir(undefined, (m) => {
          m.dino.registerTokens = 0;
        }),
      /output "last_hidden_state" dimension 1 is 69, expected 65/,
    ],
    [
      'a changed file (sha256)',
      () =>
        writeModelDir(undefined, (m) => {
          m.samEncoder.sha256 = '0'.repeat(64);
        }),
      /sam2_encoder\.onnx: sha256 is [0-9a-f]{64}, manifest\.json says 0{64}/,
    ],
    [
      'a manifest that is not JSON',
      (dir) => {
        writeFileSync(join(dir, 'manifest.json'), '{ nope');
        return dir;
      },
      /manifest\.json: not valid JSON/,
    ],
    [
      'a manifest without a section',
      (dir) => {
        writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: 'synpo-models/1', dino: { file: 'dinov2.onnx', channels: 16, size: 112 } }));
        return dir;
      },
      /"samEncoder" is missing/,
    ],
    [
      'a file that is not an ONNX graph',
      (dir) => {
        writeFileSync(join(dir, 'sam2_decoder.onnx'), 'garbage');
        return dir;
      },
      /sam2_decoder\.onnx: ONNX Runtime cannot load this model/,
    ],
  ];
  for (const [name, make, message] of bad) {
    it(`reports ${name}, naming the file`, async () => {
      const { models, report } = await loadModels(fsSource(make(writeModelDir())), 'cpu', quiet);
      expect(models).toBeNull();
      expect(report.ok).toBe(false);
      expect(report.problems.join('\n')).toMatch(message);
    });
  }
});

describe('DINOv2 tokens and the execution-provider table', () => {
  it('drops the CLS and register tokens and keeps the patch grid in row-major order', async () => {
    const dir = writeModelDir({ size: 896, patch: 14, channels: 8, registers: 4, batch: false });
    const { models } = await loadModels(fsSource(dir), 'cpu', quiet);
    const image = phantomPatient(9, { slices: 1 }).image.data.subarray(0, PIXELS);
    const enc = await onnxBackend(models!).dino.encodeSlices(image, 1);
    // The raw tokens, straight from the graph: [1, 1 + 4 + 64·64, 8].
    const raw = await models!.dino.run({
      pixel_values: { data: toModelInput(image, 1, 896, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225], 'bicubic'), dims: [1, 3, 896, 896] },
    });
    const tokens = raw.last_hidden_state!;
    expect(tokens.dims).toEqual([1, 5 + 4096, 8]);
    for (const cell of [0, 1, 64, 4095]) {
      for (let c = 0; c < 8; c++) expect(enc[c * CELLS + cell]).toBeCloseTo(tokens.data[(5 + cell) * 8 + c]!, 5);
    }
    // The CLS token (the fixture makes it the mean of the patch tokens) is not in the grid.
    expect(enc[0]).not.toBeCloseTo(tokens.data[0]!, 5);
  });

  it('an execution provider this runtime lacks falls back to the CPU with a notice', async () => {
    const notices: string[] = [];
    const { report } = await loadModels(fsSource(writeModelDir()), 'cuda', (m) => notices.push(m));
    expect(report.ok).toBe(true);
    expect(report.models.every((m) => m.provider === 'cpu')).toBe(true);
    expect(notices[0]).toMatch(/no cuda execution provider here; running .*dinov2\.onnx on the CPU/);
  });

  it('a model that outputs NaN is reported with its file', async () => {
    const { models } = await loadModels(fsSource(writeModelDir({ size: 112, patch: 14, channels: 8, registers: 0, batch: true, poison: true })), 'cpu', quiet);
    const image = phantomPatient(9, { slices: 1 }).image.data.subarray(0, PIXELS);
    await expect(onnxBackend(models!).dino.encodeSlices(image, 1)).rejects.toThrow(
      /dinov2\.onnx: output last_hidden_state holds NaN at index 0; the model produced non-finite values/,
    );
  });
});

describe.each(['cpu', 'webgpu'] as ExecutionProvider[])('SynPo through the ONNX backend (%s execution provider)', (provider) => {
  it('encodes, drops CLS and register tokens, resizes the grid, and decodes with the points and mask prompt', async (ctx) => {
    // A provider this onnxruntime-node lacks would fall back to the CPU: that run would test the
    // CPU twice. Say so by name (and fail under CI, where the webgpu provider is expected).
    if (!availableProviders().has(provider) && !requireGpu) return ctx.skip(`onnxruntime-node here has no ${provider} execution provider`);
    const notices: string[] = [];
    const { models, report } = await loadModels(fsSource(writeModelDir()), provider, (m) => notices.push(m));
    expect(report.problems).toEqual([]);
    expect(report.models.map((m) => m.provider)).toEqual([provider, provider, provider]);
    expect(notices).toEqual([]);
    const backend = onnxBackend(models!);
    const kernels = cpuKernels();
    const p = phantomPatient(7, { slices: 6 });
    const image = p.image.data.subarray(3 * PIXELS, 4 * PIXELS);
    // DINO: 112 / 14 = 8×8 patch tokens, resized to 64×64, 16 channels.
    const dino = await backend.dino.encodeSlices(image, 1);
    expect(dino.length).toBe(16 * CELLS);
    expect(dino.every(Number.isFinite)).toBe(true);
    // Bilinear resize of an 8×8 grid (half-pixel centres, edges clamped): the 64×64 grid's corner
    // cells equal the corner patch tokens.
    const m = models!.manifest.dino;
    const raw = await models!.dino.run({ [m.input]: { data: toModelInput(image, 1, m.size, m.mean, m.std, m.interpolation), dims: [1, 3, m.size, m.size] } });
    const tokens = raw[m.output]!;
    const skip = 1 + m.registerTokens;
    for (const [cell, patch] of [
      [0, 0],
      [63, 7],
      [63 * 64, 56],
      [4095, 63],
    ] as const) {
      for (let c = 0; c < 16; c++) expect(dino[c * CELLS + cell]).toBeCloseTo(tokens.data[(skip + patch) * 16 + c]!, 5);
    }
    const sam = await backend.sam.encodeSlices(image, 1);
    expect(sam.length).toBe(256 * CELLS);
    // The decoder fixture draws a disc of radius 30 (256 grid) around the positives' mean.
    const [mask] = await backend.decoder.decodeRequests([
      {
        image,
        points: [
          { x: 100, y: 120, label: 1 },
          { x: 120, y: 120, label: 1 },
          { x: 10, y: 10, label: 0 },
        ],
      },
    ]);
    expect(mask![120 * 256 + 110]).toBe(1);
    expect(mask![120 * 256 + 150]).toBe(0);
    const area = mask!.reduce((a, v) => a + v, 0);
    expect(area).toBeGreaterThan(Math.PI * 29 * 29);
    expect(area).toBeLessThan(Math.PI * 31 * 31);
    // With a mask prompt, the prompt adds to the logits: pixels of the prompt far from the disc turn on.
    const prompt = new Uint8Array(PIXELS);
    for (let y = 200; y < 240; y++) for (let x = 200; x < 240; x++) prompt[y * 256 + x] = 1;
    const [prompted] = await backend.decoder.decodeRequests([{ image, points: [{ x: 100, y: 120, label: 1 }], maskPrompt: prompt }]);
    expect(prompted![220 * 256 + 220]).toBe(1);

    // SynPo end to end, deterministic.
    const run = async () => {
      const synpo = new Synpo(backend, kernels, { seed: 2 });
      const mask3 = Uint8Array.from(p.labels.data.subarray(3 * PIXELS, 4 * PIXELS), (v) => (v === 1 ? 1 : 0));
      const enc = await synpo.prepareSupport({ image, mask: mask3 });
      return (await synpo.segment(enc, p.image.data.slice(2 * PIXELS, 4 * PIXELS), 2))!;
    };
    const [a, b] = [await run(), await run()];
    expect(a).toHaveLength(2);
    expect(a[0]!.positives).toHaveLength(4);
    expect(a[0]!.final.some((v) => v)).toBe(true);
    expect(Buffer.from(a[1]!.final).equals(Buffer.from(b[1]!.final))).toBe(true);
  }, 300_000);
});

describe('the ONNX backend on the GPU path', () => {
  it('uploads each encoder output once and keeps the post-encoder stages on the device', async (ctx) => {
    let handle;
    try {
      handle = await openGpu();
    } catch (error) {
      if (requireGpu || !(error instanceof NoAdapterError)) throw error;
      return ctx.skip(`no WebGPU adapter here (${(error as Error).message}); CI requires one`);
    }
    const runtime = new GpuRuntime(handle.device);
    const { models } = await loadModels(fsSource(writeModelDir()), 'cpu', quiet);
    const backend = onnxBackend(models!);
    const p = phantomPatient(7, { slices: 6 });
    const image = p.image.data.subarray(3 * PIXELS, 4 * PIXELS);
    const mask = Uint8Array.from(p.labels.data.subarray(3 * PIXELS, 4 * PIXELS), (v) => (v === 1 ? 1 : 0));
    const synpo = new Synpo(backend, gpuKernels(runtime), { seed: 2 });
    const enc = await synpo.prepareSupport({ image, mask });
    const B = 3;
    const queries = p.image.data.slice(1 * PIXELS, (1 + B) * PIXELS);
    const before = runtime.snapshotTransfers();
    const gpu = await synpo.segment(enc, queries, B);
    const uploaded = runtime.snapshotTransfers().uploadBytes - before.uploadBytes;
    const features = B * (backend.sam.channels + backend.dino.channels) * CELLS * 4;
    expect(uploaded).toBeGreaterThanOrEqual(features);
    // The rest is the slices, SAM's masks and the prompts: far less than a second copy of the features.
    expect(uploaded - features).toBeLessThan(features / 2);
    const cpu = await new Synpo(backend, cpuKernels(), { seed: 2 }).segment(enc, queries, B);
    gpu.forEach((r, b) => {
      expect(r.positives).toEqual(cpu[b]!.positives);
      expect(Buffer.from(r.final).equals(Buffer.from(cpu[b]!.final))).toBe(true);
    });
    runtime.destroy();
    handle.release();
  }, 120_000);
});

describe("models the way the paper's exports come", () => {
  const variants: [string, { float16?: boolean; externalData?: boolean }][] = [
    ['with their weights in external-data files', { externalData: true }],
    ['with float16 inputs and outputs', { float16: true }],
    ['in float16 with external data', { float16: true, externalData: true }],
  ];
  for (const [name, variant] of variants) {
    it(`load and run ${name}, from paths (Node) and from bytes (as in the browser)`, async () => {
      const dir = writeModelDir(undefined, undefined, variant);
      // The weights really are outside the graph.
      if (variant.externalData) expect(statSync(join(dir, 'dinov2.onnx')).size).toBeLessThan(statSync(join(dir, 'dinov2.onnx.data')).size);
      const ref = await loadModels(fsSource(writeModelDir()), 'cpu', quiet);
      const p = phantomPatient(7, { slices: 6 });
      const image = p.image.data.subarray(3 * PIXELS, 4 * PIXELS);
      const want = await onnxBackend(ref.models!).dino.encodeSlices(image, 1);
      for (const source of [pathSource(dir), fsSource(dir)]) {
        const { models, report } = await loadModels(source, 'cpu', quiet);
        expect(report.problems).toEqual([]);
        if (variant.float16) expect(report.models[0]!.inputs[0]!.type).toBe('float16');
        const backend = onnxBackend(models!);
        const got = await backend.dino.encodeSlices(image, 1);
        // float16 at the edges rounds the input and the tokens: about 3 significant digits.
        expectCloseArrays(got, want, variant.float16 ? 2e-2 : 1e-6);
        const [mask] = await backend.decoder.decodeRequests([{ image, points: [{ x: 100, y: 120, label: 1 }] }]);
        expect(mask![120 * 256 + 100]).toBe(1);
        const synpo = new Synpo(backend, cpuKernels(), { seed: 2 });
        const mask3 = Uint8Array.from(p.labels.data.subarray(3 * PIXELS, 4 * PIXELS), (v) => (v === 1 ? 1 : 0));
        const [r] = await synpo.segment(await synpo.prepareSupport({ image, mask: mask3 }), p.image.data.slice(2 * PIXELS, 3 * PIXELS), 1);
        expect(r!.final.some((v) => v)).toBe(true);
      }
    }, 120_000);
  }

  it('names a missing or changed external-data file before opening anything', async () => {
    const dir = writeModelDir(undefined, undefined, { externalData: true });
    writeFileSync(join(dir, 'sam2_encoder.onnx.data'), 'changed');
    rmSync(join(dir, 'dinov2.onnx.data'));
    for (const source of [pathSource(dir), fsSource(dir)]) {
      const { models, report } = await loadModels(source, 'cpu', quiet);
      expect(models).toBeNull();
      const text = report.problems.join('\n');
      expect(text).toMatch(/dinov2\.onnx\.data: cannot read external data of dinov2\.onnx \(.*\); is the export complete\?/);
      expect(text).toMatch(/sam2_encoder\.onnx\.data: sha256 is [0-9a-f]{64}, manifest\.json says [0-9a-f]{64}/);
    }
  });
});

function expectCloseArrays(got: Float32Array, want: Float32Array, rtol: number): void {
  expect(got.length).toBe(want.length);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThanOrEqual(rtol * scale);
}
