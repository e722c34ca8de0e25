/**
 * The model directory: a `manifest.json` naming each exported graph's file, its tensor names,
 * input size and normalisation, and its sha256, so that exports with other tensor names still
 * work. `checkManifest` reports every problem in plain words, with the file it concerns.
 */

export const MANIFEST_FORMAT = 'synpo-models/1';
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * A graph file and what it needs: exports over 2 GB (DINOv2 ViT-g/14 in fp32 is about 4.4 GB)
 * keep their weights in external-data files next to the graph, which ONNX Runtime reads itself.
 */
export interface ModelFile {
  file: string;
  sha256?: string;
  /** External-data files the graph refers to, each checked for presence (and sha256) like the graph. */
  externalData?: { file: string; sha256?: string }[];
}

export interface DinoManifest extends ModelFile {
  /** Input tensor name (Hugging Face exports: pixel_values). */
  input: string;
  /** Output tensor of the token sequence [B, 1 + R + N, C] (last_hidden_state). */
  output: string;
  /** Square input side in pixels, a multiple of patchSize (896 → a 64×64 grid at patch 14). */
  size: number;
  patchSize: number;
  /** Register tokens after the CLS token (0, or 4 for the -reg variants). */
  registerTokens: number;
  channels: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** How the 256×256 ROI is resized to `size`. */
  interpolation: 'bilinear' | 'bicubic';
  /** Whether the graph takes a batch of more than one image. */
  batch: boolean;
}

export interface SamEncoderManifest extends ModelFile {
  input: string;
  size: number;
  outputs: { imageEmbed: string; highRes0: string; highRes1: string };
  mean: [number, number, number];
  std: [number, number, number];
  batch: boolean;
}

export interface SamDecoderManifest extends ModelFile {
  inputs: {
    imageEmbed: string;
    highRes0: string;
    highRes1: string;
    pointCoords: string;
    pointLabels: string;
    maskInput: string;
    hasMaskInput: string;
  };
  /** Low-resolution mask logits [1, M, 256, 256] and their IoU scores [1, M]. */
  outputs: { masks: string; iou: string };
}

export interface ModelManifest {
  format: string;
  dino: DinoManifest;
  samEncoder: SamEncoderManifest;
  samDecoder: SamDecoderManifest;
}

export const DEFAULT_NAMES = {
  dino: { input: 'pixel_values', output: 'last_hidden_state' },
  samEncoder: { input: 'image', outputs: { imageEmbed: 'image_embed', highRes0: 'high_res_feats_0', highRes1: 'high_res_feats_1' } },
  samDecoder: {
    inputs: {
      imageEmbed: 'image_embed',
      highRes0: 'high_res_feats_0',
      highRes1: 'high_res_feats_1',
      pointCoords: 'point_coords',
      pointLabels: 'point_labels',
      maskInput: 'mask_input',
      hasMaskInput: 'has_mask_input',
    },
    outputs: { masks: 'low_res_masks', iou: 'iou_predictions' },
  },
} as const;

type Json = Record<string, unknown>;

/** Parses and completes a manifest; throws with every problem listed. */
export function parseManifest(text: string, where: string): ModelManifest {
  let raw: Json;
  try {
    raw = JSON.parse(text) as Json;
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
  }
  const problems: string[] = [];
  const section = (key: string): Json => {
    const v = raw[key];
    if (!v || typeof v !== 'object') {
      problems.push(`"${key}" is missing`);
      return {};
    }
    return v as Json;
  };
  const str = (s: Json, key: string, path: string, fallback?: string): string => {
    const v = s[key] ?? fallback;
    if (typeof v !== 'string' || !v) problems.push(`${path}.${key} must be a non-empty string`);
    return String(v ?? '');
  };
  const num = (s: Json, key: string, path: string, fallback?: number): number => {
    const v = s[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`${path}.${key} must be a non-negative number`);
    return Number(v);
  };
  const triple = (s: Json, key: string, path: string, fallback: [number, number, number]): [number, number, number] => {
    const v = s[key] ?? fallback;
    if (!Array.isArray(v) || v.length !== 3 || !v.every((x) => typeof x === 'number')) problems.push(`${path}.${key} must be three numbers (R, G, B)`);
    return v as [number, number, number];
  };
  const names = (s: Json, key: string, path: string, defaults: Record<string, string>): Record<string, string> => {
    const given = (s[key] ?? {}) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(defaults).map(([k, d]) => [k, str(given as Json, k, `${path}.${key}`, d)]));
  };
  /** file, sha256 and externalData of a section. */
  const fileOf = (s: Json, path: string): ModelFile => {
    const out: ModelFile = { file: str(s, 'file', path), ...(typeof s.sha256 === 'string' && { sha256: s.sha256 }) };
    if (s.externalData !== undefined) {
      const list = s.externalData;
      if (
        !Array.isArray(list) ||
        !list.every(
          (x) =>
            x &&
            typeof x === 'object' &&
            typeof (x as Json).file === 'string' &&
            (x as Json).file &&
            ((x as Json).sha256 === undefined || typeof (x as Json).sha256 === 'string'),
        )
      ) {
        problems.push(`${path}.externalData must be a list of { "file": "…", "sha256": "…" } (sha256 optional)`);
      } else {
        out.externalData = (list as Json[]).map((x) => ({ file: x.file as string, ...(typeof x.sha256 === 'string' && { sha256: x.sha256 }) }));
      }
    }
    return out;
  };
  if (raw.format !== MANIFEST_FORMAT) problems.push(`"format" must be "${MANIFEST_FORMAT}", got ${JSON.stringify(raw.format)}`);
  const d = section('dino');
  const e = section('samEncoder');
  const q = section('samDecoder');
  const dino: DinoManifest = {
    ...fileOf(d, 'dino'),
    input: str(d, 'input', 'dino', DEFAULT_NAMES.dino.input),
    output: str(d, 'output', 'dino', DEFAULT_NAMES.dino.output),
    size: num(d, 'size', 'dino', 896),
    patchSize: num(d, 'patchSize', 'dino', 14),
    registerTokens: num(d, 'registerTokens', 'dino', 0),
    channels: num(d, 'channels', 'dino'),
    mean: triple(d, 'mean', 'dino', IMAGENET_MEAN),
    std: triple(d, 'std', 'dino', IMAGENET_STD),
    interpolation: (d.interpolation ?? 'bicubic') as DinoManifest['interpolation'],
    batch: d.batch === true,
  };
  if (dino.interpolation !== 'bilinear' && dino.interpolation !== 'bicubic') problems.push('dino.interpolation must be "bilinear" or "bicubic"');
  if (dino.patchSize > 0 && dino.size % dino.patchSize !== 0) problems.push(`dino.size ${dino.size} is not a multiple of dino.patchSize ${dino.patchSize}`);
  const samEncoder: SamEncoderManifest = {
    ...fileOf(e, 'samEncoder'),
    input: str(e, 'input', 'samEncoder', DEFAULT_NAMES.samEncoder.input),
    size: num(e, 'size', 'samEncoder', 1024),
    outputs: names(e, 'outputs', 'samEncoder', DEFAULT_NAMES.samEncoder.outputs) as SamEncoderManifest['outputs'],
    mean: triple(e, 'mean', 'samEncoder', IMAGENET_MEAN),
    std: triple(e, 'std', 'samEncoder', IMAGENET_STD),
    batch: e.batch === true,
  };
  const samDecoder: SamDecoderManifest = {
    ...fileOf(q, 'samDecoder'),
    inputs: names(q, 'inputs', 'samDecoder', DEFAULT_NAMES.samDecoder.inputs) as SamDecoderManifest['inputs'],
    outputs: names(q, 'outputs', 'samDecoder', DEFAULT_NAMES.samDecoder.outputs) as SamDecoderManifest['outputs'],
  };
  if (problems.length) throw new Error(`${where}:\n  - ${problems.join('\n  - ')}`);
  return { format: MANIFEST_FORMAT, dino, samEncoder, samDecoder };
}
