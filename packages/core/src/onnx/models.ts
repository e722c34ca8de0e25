/**
 * Loading and checking a model directory: the manifest, each graph's file and sha256, and each
 * graph's input/output names, ranks, sizes and dtypes against what the manifest promises. All
 * of it happens before any volume is processed, and every problem names its file.
 */
import type { OnnxModels } from './backend.ts';
import { parseManifest, type ModelFile, type ModelManifest } from './manifest.ts';
import { providerDevice } from '#ort';
import { openModel, type ExecutionProvider, type ModelInput, type ModelSession, type ValueInfo } from './session.ts';

export interface ModelSource {
  /** Where the directory is, for messages. */
  where: string;
  read(name: string): Promise<Uint8Array>;
  /** SHA-256 of bytes as lowercase hex (node:crypto or crypto.subtle). */
  sha256(bytes: Uint8Array): Promise<string>;
  /**
   * A file's path on disk (Node). With it, sessions open from the path, so ONNX Runtime reads the
   * graph and its external data itself: no 2 GiB limit, nothing held twice.
   */
  path?(name: string): string;
  /** SHA-256 of a file without holding it whole (with `path`). */
  hashFile?(name: string): Promise<string>;
  /** Whether a file is there, without reading it (with `path`). */
  exists?(name: string): Promise<boolean>;
}

export interface CheckReport {
  ok: boolean;
  problems: string[];
  models: { role: string; file: string; provider: string; inputs: ValueInfo[]; outputs: ValueInfo[] }[];
}

type Expect = { name: string; shape: (number | null)[] };

function compare(file: string, kind: 'input' | 'output', actual: ValueInfo[], expected: Expect[], problems: string[]): void {
  for (const e of expected) {
    const a = actual.find((v) => v.name === e.name);
    if (!a) {
      problems.push(
        `${file}: has no ${kind} named "${e.name}" (${kind}s: ${actual.map((v) => v.name).join(', ') || 'none'}); fix the name in manifest.json or re-export`,
      );
      continue;
    }
    if (a.type && a.type !== 'float32' && a.type !== 'float16')
      problems.push(`${file}: ${kind} "${e.name}" is ${a.type}, SynPo feeds and reads float32 or float16`);
    if (a.shape) {
      if (a.shape.length !== e.shape.length) {
        problems.push(
          `${file}: ${kind} "${e.name}" has rank ${a.shape.length} [${a.shape.join(', ')}], expected rank ${e.shape.length} [${e.shape.map((d) => d ?? '?').join(', ')}]`,
        );
        continue;
      }
      e.shape.forEach((d, i) => {
        const got = a.shape![i];
        if (d !== null && typeof got === 'number' && got > 0 && got !== d) {
          problems.push(`${file}: ${kind} "${e.name}" dimension ${i} is ${got}, expected ${d} (shape [${a.shape!.join(', ')}])`);
        }
      });
    }
  }
}

/** What each graph must look like, from the manifest. */
function expectations(m: ModelManifest): Record<'dino' | 'samEncoder' | 'samDecoder', { inputs: Expect[]; outputs: Expect[] }> {
  const s = m.samEncoder.size;
  const g = m.dino.size / m.dino.patchSize;
  return {
    dino: {
      inputs: [{ name: m.dino.input, shape: [m.dino.batch ? null : 1, 3, m.dino.size, m.dino.size] }],
      outputs: [{ name: m.dino.output, shape: [m.dino.batch ? null : 1, 1 + m.dino.registerTokens + g * g, m.dino.channels] }],
    },
    samEncoder: {
      inputs: [{ name: m.samEncoder.input, shape: [1, 3, s, s] }],
      outputs: [
        { name: m.samEncoder.outputs.imageEmbed, shape: [1, 256, s / 16, s / 16] },
        { name: m.samEncoder.outputs.highRes0, shape: [1, 32, s / 4, s / 4] },
        { name: m.samEncoder.outputs.highRes1, shape: [1, 64, s / 8, s / 8] },
      ],
    },
    samDecoder: {
      inputs: [
        { name: m.samDecoder.inputs.imageEmbed, shape: [1, 256, s / 16, s / 16] },
        { name: m.samDecoder.inputs.highRes0, shape: [1, 32, s / 4, s / 4] },
        { name: m.samDecoder.inputs.highRes1, shape: [1, 64, s / 8, s / 8] },
        { name: m.samDecoder.inputs.pointCoords, shape: [null, null, 2] },
        { name: m.samDecoder.inputs.pointLabels, shape: [null, null] },
        { name: m.samDecoder.inputs.maskInput, shape: [null, 1, s / 4, s / 4] },
        { name: m.samDecoder.inputs.hasMaskInput, shape: [1] },
      ],
      outputs: [
        { name: m.samDecoder.outputs.masks, shape: [null, null, null, null] },
        { name: m.samDecoder.outputs.iou, shape: [null, null] },
      ],
    },
  };
}

/**
 * Opens the directory's three graphs and checks them. With `run`, each graph also runs once on
 * a dummy input (a grey slice and one point) and its outputs are checked for shape and NaN.
 */
export async function loadModels(
  source: ModelSource,
  provider: ExecutionProvider,
  notify: (m: string) => void,
  options: { gpuOutputs?: boolean } = {},
): Promise<{ models: OnnxModels | null; report: CheckReport }> {
  const problems: string[] = [];
  const report: CheckReport = { ok: false, problems, models: [] };
  let manifest: ModelManifest;
  try {
    manifest = parseManifest(new TextDecoder().decode(await source.read('manifest.json')), `${source.where}/manifest.json`);
  } catch (error) {
    problems.push((error as Error).message);
    return { models: null, report };
  }
  const expected = expectations(manifest);
  // In the browser the encoders' outputs (the feature grids) can stay on the webgpu provider's
  // device; kernels run on that same device then read them without a copy (models.device).
  const onGpu = Boolean(options.gpuOutputs) && provider === 'webgpu';
  const gpuOutputs = {
    dino: onGpu ? [manifest.dino.output] : [],
    samEncoder: onGpu ? [manifest.samEncoder.outputs.imageEmbed] : [],
    samDecoder: [],
  };
  const sessions: Partial<Record<'dino' | 'samEncoder' | 'samDecoder', ModelSession>> = {};
  for (const role of ['dino', 'samEncoder', 'samDecoder'] as const) {
    const entry = manifest[role];
    const path = `${source.where}/${entry.file}`;
    const model = await modelInput(source, entry, role, problems);
    if (!model) continue;
    try {
      const session = await openModel(path, model, provider, notify, { gpuOutputs: gpuOutputs[role] });
      sessions[role] = session;
      report.models.push({ role, file: path, provider: session.provider, inputs: session.inputs, outputs: session.outputs });
      compare(path, 'input', session.inputs, expected[role].inputs, problems);
      compare(path, 'output', session.outputs, expected[role].outputs, problems);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  report.ok = problems.length === 0;
  if (!report.ok) return { models: null, report };
  const models: OnnxModels = { manifest, dino: sessions.dino!, samEncoder: sessions.samEncoder!, samDecoder: sessions.samDecoder! };
  if (onGpu && sessions.dino!.provider === 'webgpu' && sessions.samEncoder!.provider === 'webgpu') {
    const device = await providerDevice();
    if (device) models.device = device;
  }
  return { models, report };
}

/**
 * The graph of one manifest entry, ready to open, after checking it and its external-data files
 * are there and match their sha256; every problem goes to `problems`, naming its file. Null when
 * a file cannot be read.
 */
async function modelInput(source: ModelSource, entry: ModelFile, role: string, problems: string[]): Promise<ModelInput | null> {
  const files = [
    { file: entry.file, sha256: entry.sha256, what: `the ${role} model` },
    ...(entry.externalData ?? []).map((x) => ({ ...x, what: `external data of ${entry.file}` })),
  ];
  const fail = (file: string, why: string) => problems.push(`${source.where}/${file}: ${why}`);
  let ok = true;
  const external: { path: string; data: Uint8Array }[] = [];
  let bytes: Uint8Array | null = null;
  for (const f of files) {
    try {
      let digest: string | null = null;
      if (source.path) {
        if (source.exists && !(await source.exists(f.file))) throw new Error('no such file');
        if (f.sha256) digest = source.hashFile ? await source.hashFile(f.file) : await source.sha256(await source.read(f.file));
      } else {
        const data = await source.read(f.file);
        if (f.sha256) digest = await source.sha256(data);
        if (f.file === entry.file) bytes = data;
        else external.push({ path: f.file, data });
      }
      // A changed file is reported and still opened: whatever else is wrong with it is said too.
      if (f.sha256 && digest !== f.sha256.toLowerCase()) fail(f.file, `sha256 is ${digest}, manifest.json says ${f.sha256}; the file changed or is corrupt`);
    } catch (error) {
      fail(f.file, `cannot read ${f.what} (${(error as Error).message}); is the export complete?`);
      ok = false;
    }
  }
  if (!ok) return null;
  if (source.path) return { path: source.path(entry.file) };
  return { bytes: bytes!, ...(external.length && { externalData: external }) };
}
