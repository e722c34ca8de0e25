/**
 * The ONNX backend: SynPo's models as the paper runs them. DINOv2 (any ViT with patch 14, with
 * or without register tokens) for the DINO role; SAM 2.1's image encoder for the SAM role
 * (its 256×64×64 image embedding) and its prompt decoder as the promptable decoder. Encodings
 * are cached by slice content, so a slice is encoded once per run, and SAM's high-resolution
 * features wait in that cache for the decoder.
 */
import { GpuStream, type T, type TensorStream } from '@synpo/gpu';
import { tokensToGrid, tokensToGridReference, upsampleBilinear, upsampleBilinearReference } from '@synpo/gpu/kernels';
import {
  CELLS,
  GRID,
  PIXELS,
  type Backend,
  type DecodeBatch,
  type DecodeRequest,
  type FeatureEncoder,
  type PromptDecoder,
  type SliceBatch,
} from '../backend.ts';
import { roiMaskToSamPrompt, roiToSam, samMaskToRoi } from './coords.ts';
import { contentHash, toModelInput } from './image.ts';
import type { ModelManifest } from './manifest.ts';
import { ByteLru, DEFAULT_CACHE_BYTES } from '../cache.ts';
import { hostData, ModelError, type ModelSession, type TensorValue } from './session.ts';

export interface OnnxModels {
  manifest: ModelManifest;
  dino: ModelSession;
  samEncoder: ModelSession;
  samDecoder: ModelSession;
  /**
   * The device the encoders' outputs stay on (onnxruntime-web's webgpu provider, asked with
   * `loadModels(…, { gpuOutputs: true })`): kernels run on this device take them without a copy.
   */
  device?: GPUDevice;
}

/** Whether `s` runs on the device the models' GPU outputs live on. */
function sharesDevice(models: OnnxModels, s: TensorStream): s is GpuStream {
  return Boolean(models.device) && s instanceof GpuStream && s.runtime.device === models.device;
}

function finiteOrThrow(t: TensorValue, file: string, name: string): void {
  // An output kept on the GPU is not read here; its values reach the host only through the kernels.
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isFinite(t.data[i])) throw new ModelError(file, `output ${name} holds ${t.data[i]} at index ${i}; the model produced non-finite values`);
  }
}

/** Bilinear resize of a channel-first [C][g·g] grid to [C][GRID·GRID] (each channel a map). */
function gridTo64(grid: Float32Array, C: number, g: number): Float32Array {
  return g === GRID ? grid : upsampleBilinearReference(grid, { B: C, inH: g, inW: g, outH: GRID, outW: GRID });
}

export class DinoEncoder implements FeatureEncoder {
  readonly name = 'DINOv2 (ONNX)';
  readonly role = 'dino' as const;
  readonly channels: number;
  /** Grids by slice content, least recently used out first, bounded in bytes. */
  readonly cache: ByteLru<Float32Array>;
  constructor(
    private readonly models: OnnxModels,
    cacheBytes = DEFAULT_CACHE_BYTES / 4,
  ) {
    this.channels = models.manifest.dino.channels;
    this.cache = new ByteLru(cacheBytes, (grid) => grid.byteLength);
  }

  /**
   * On the device ONNX Runtime shares (the browser's webgpu provider), the tokens become grids
   * there; otherwise ONNX Runtime's output crosses once: one upload per batch.
   */
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    if (sharesDevice(this.models, s)) return this.encodeOnDevice(slices.host, B, s);
    return s.upload(await this.encodeSlices(slices.host, B), [B, this.channels, CELLS]);
  }

  private async encodeOnDevice(slices: Float32Array, B: number, s: GpuStream): Promise<T<'f32'>> {
    const m = this.models.manifest.dino;
    const step = m.batch ? B : 1;
    const parts: T<'f32'>[] = [];
    for (let b0 = 0; b0 < B; b0 += step) {
      const nb = Math.min(step, B - b0);
      const tokens = await this.run(slices.subarray(b0 * PIXELS, (b0 + nb) * PIXELS), nb);
      const [, nt, C] = tokens.dims as [number, number, number];
      const g = m.size / m.patchSize;
      // float32 tokens on the GPU are taken as they are; float16 ones (an fp16 export) come down
      // to be converted (the kernels read float32).
      const onDevice =
        tokens.gpu && tokens.type !== 'float16'
          ? s.adoptBuffer(tokens.gpu.buffer, tokens.dims, tokens.gpu.dispose)
          : s.upload(await hostData(tokens), tokens.dims);
      if (tokens.gpu && tokens.type === 'float16') tokens.gpu.dispose();
      const grid = s.run(tokensToGrid, { tokens: onDevice }, { B: nb, T: nt, C, skip: 1 + m.registerTokens, cells: g * g });
      parts.push(g === GRID ? grid : s.run(upsampleBilinear, { maps: grid }, { B: nb * C, inH: g, inW: g, outH: GRID, outW: GRID }));
    }
    return parts.length === 1 ? parts[0]! : s.concat(parts, [B, this.channels, CELLS]);
  }

  /** One run of the graph on `nb` slices, its output checked against the manifest. */
  private async run(batch: Float32Array, nb: number): Promise<TensorValue> {
    const m = this.models.manifest.dino;
    const input = toModelInput(batch, nb, m.size, m.mean, m.std, m.interpolation);
    const result = await this.models.dino.run({ [m.input]: { data: input, dims: [nb, 3, m.size, m.size] } });
    const tokens = result[m.output];
    if (!tokens) throw new ModelError(m.file, `has no output named ${m.output} (outputs: ${Object.keys(result).join(', ')})`);
    finiteOrThrow(tokens, m.file, m.output);
    const g = m.size / m.patchSize;
    const skip = 1 + m.registerTokens;
    const [b, nt, C] = tokens.dims as [number, number, number];
    if (b !== nb || nt !== skip + g * g || C !== this.channels) {
      tokens.gpu?.dispose();
      throw new ModelError(
        m.file,
        `output ${m.output} is [${tokens.dims.join(', ')}]; expected [${nb}, ${skip + g * g}, ${this.channels}] (1 CLS + ${m.registerTokens} register + ${g}×${g} patch tokens)`,
      );
    }
    return tokens;
  }

  /** B ROI slices → [B][C][GRID·GRID] on the host. */
  async encodeSlices(slices: Float32Array, B: number): Promise<Float32Array> {
    const m = this.models.manifest.dino;
    const out = new Float32Array(B * this.channels * CELLS);
    const todo: number[] = [];
    const keys = Array.from({ length: B }, (_, b) => contentHash(slices.subarray(b * PIXELS, (b + 1) * PIXELS)));
    keys.forEach((k, b) => {
      const hit = this.cache.get(k);
      if (hit) out.set(hit, b * this.channels * CELLS);
      else todo.push(b);
    });
    const step = m.batch ? todo.length : 1;
    for (let i = 0; i < todo.length; i += step) {
      const group = todo.slice(i, i + step);
      const batch = new Float32Array(group.length * PIXELS);
      group.forEach((b, k) => batch.set(slices.subarray(b * PIXELS, (b + 1) * PIXELS), k * PIXELS));
      const tokens = await this.run(batch, group.length);
      const data = await hostData(tokens);
      tokens.gpu?.dispose();
      const g = m.size / m.patchSize;
      const [, nt, C] = tokens.dims as [number, number, number];
      // Patch tokens (CLS and registers dropped), row-major over the g×g grid → channel-first.
      const grids = tokensToGridReference(data, { B: group.length, T: nt, C, skip: 1 + m.registerTokens, cells: g * g });
      group.forEach((b, k) => {
        const enc = gridTo64(grids.subarray(k * C * g * g, (k + 1) * C * g * g), C, g);
        this.cache.set(keys[b]!, enc);
        out.set(enc, b * C * CELLS);
      });
    }
    return out;
  }
}

interface SamEmbedding {
  imageEmbed: TensorValue;
  highRes0: TensorValue;
  highRes1: TensorValue;
  /** Users of a GPU-held embedding (streams, decoder runs); it is let go once evicted and unused. */
  users: number;
  evicted: boolean;
}

const tensorBytes = (t: TensorValue) => 4 * t.dims.reduce((a, d) => a * d, 1);

/** Lets go of a GPU-held embedding once the cache has dropped it and nobody uses it. */
function settle(e: SamEmbedding): void {
  if (e.evicted && e.users === 0) e.imageEmbed.gpu?.dispose();
}

export class Sam2Encoder implements FeatureEncoder {
  readonly name = 'SAM 2.1 image encoder (ONNX)';
  readonly role = 'sam' as const;
  readonly channels = 256;
  /** Embeddings by slice content (the decoder reads them too), bounded in bytes. */
  readonly cache: ByteLru<SamEmbedding>;
  constructor(
    private readonly models: OnnxModels,
    cacheBytes = DEFAULT_CACHE_BYTES / 4,
  ) {
    this.cache = new ByteLru(
      cacheBytes,
      (e) => tensorBytes(e.imageEmbed) + tensorBytes(e.highRes0) + tensorBytes(e.highRes1),
      (e) => {
        e.evicted = true;
        settle(e);
      },
    );
  }

  /** The embedding of one ROI slice, from the cache or the encoder. */
  async embed(slice: Float32Array): Promise<SamEmbedding> {
    const key = contentHash(slice);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const m = this.models.manifest.samEncoder;
    const input = toModelInput(slice, 1, m.size, m.mean, m.std, 'bilinear');
    const r = await this.models.samEncoder.run({ [m.input]: { data: input, dims: [1, 3, m.size, m.size] } });
    const need = (name: string, dims: number[]): TensorValue => {
      const t = r[name];
      if (!t) throw new ModelError(m.file, `has no output named ${name} (outputs: ${Object.keys(r).join(', ')})`);
      if (t.dims.join() !== dims.join()) throw new ModelError(m.file, `output ${name} is [${t.dims.join(', ')}], expected [${dims.join(', ')}]`);
      finiteOrThrow(t, m.file, name);
      return t;
    };
    const s = m.size;
    const e: SamEmbedding = {
      imageEmbed: need(m.outputs.imageEmbed, [1, 256, s / 16, s / 16]),
      highRes0: need(m.outputs.highRes0, [1, 32, s / 4, s / 4]),
      highRes1: need(m.outputs.highRes1, [1, 64, s / 8, s / 8]),
      users: 0,
      evicted: false,
    };
    this.cache.set(key, e);
    return e;
  }

  /** The image embeddings as the SAM-role grids: on the shared device as they are, else uploaded once. */
  async encode(slices: SliceBatch, B: number, s: TensorStream): Promise<T<'f32'>> {
    if (!sharesDevice(this.models, s)) return s.upload(await this.encodeSlices(slices.host, B), [B, this.channels, CELLS]);
    const g = this.models.manifest.samEncoder.size / 16;
    const parts: T<'f32'>[] = [];
    for (let b = 0; b < B; b++) {
      const e = await this.embed(slices.host.subarray(b * PIXELS, (b + 1) * PIXELS));
      // [1][256][g][g] is channel-first already; the cache owns the buffer (the decoder reads it too),
      // and lets it go only once it has dropped the entry and this stream has ended.
      let embed: T<'f32'>;
      if (e.imageEmbed.gpu && e.imageEmbed.type !== 'float16') {
        e.users++;
        embed = s.adoptBuffer(e.imageEmbed.gpu.buffer, [1, 256, g * g], () => {
          e.users--;
          settle(e);
        });
      } else {
        embed = s.upload(await hostData(e.imageEmbed), [1, 256, g * g]);
      }
      parts.push(g === GRID ? embed : s.run(upsampleBilinear, { maps: embed }, { B: 256, inH: g, inW: g, outH: GRID, outW: GRID }));
    }
    return parts.length === 1 ? parts[0]! : s.concat(parts, [B, this.channels, CELLS]);
  }

  /** B ROI slices → [B][256][GRID·GRID] image embeddings on the host. */
  async encodeSlices(slices: Float32Array, B: number): Promise<Float32Array> {
    const out = new Float32Array(B * this.channels * CELLS);
    for (let b = 0; b < B; b++) {
      const e = await this.embed(slices.subarray(b * PIXELS, (b + 1) * PIXELS));
      const g = this.models.manifest.samEncoder.size / 16;
      out.set(gridTo64(await hostData(e.imageEmbed), 256, g), b * this.channels * CELLS);
    }
    return out;
  }
}

export class Sam2Decoder implements PromptDecoder {
  readonly name = 'SAM 2.1 prompt decoder (ONNX)';
  constructor(
    private readonly models: OnnxModels,
    private readonly encoder: Sam2Encoder,
  ) {}

  /**
   * SAM's decoder runs on the host (ONNX Runtime): the mask prompts come down, the masks go up.
   * A slice whose mask prompt is empty is not decoded again (NRM keeps it empty).
   */
  async decode(batch: DecodeBatch, s: TensorStream): Promise<T<'mask'>> {
    const B = batch.B;
    const points = await batch.points();
    const prompts = batch.maskPrompt ? await s.read(batch.maskPrompt) : null;
    const out = new Uint8Array(B * PIXELS);
    const requests: { b: number; req: DecodeRequest }[] = [];
    for (let b = 0; b < B; b++) {
      const maskPrompt = prompts?.subarray(b * PIXELS, (b + 1) * PIXELS);
      if (maskPrompt && !maskPrompt.some((v) => v)) continue;
      requests.push({ b, req: { image: batch.images.host.subarray(b * PIXELS, (b + 1) * PIXELS), points: points[b]!, ...(maskPrompt && { maskPrompt }) } });
    }
    const masks = await this.decodeRequests(requests.map((r) => r.req));
    requests.forEach(({ b }, i) => out.set(masks[i]!, b * PIXELS));
    return s.upload(out, [B, PIXELS]);
  }

  /** One ROI×ROI 0/1 mask per request, on the host. */
  async decodeRequests(requests: DecodeRequest[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const req of requests) {
      const e = await this.encoder.embed(req.image);
      e.users++;
      try {
        out.push(await this.decodeOne(req, e));
      } finally {
        e.users--;
        settle(e);
      }
    }
    return out;
  }

  private async decodeOne(req: DecodeRequest, e: SamEmbedding): Promise<Uint8Array> {
    const m = this.models.manifest.samDecoder;
    const side = this.models.manifest.samEncoder.size;
    const maskSide = side / 4;
    const n = req.points.length;
    const coords = new Float32Array(2 * n);
    const labels = new Float32Array(n);
    req.points.forEach((p, i) => {
      const q = roiToSam(p, side);
      coords[2 * i] = q.x;
      coords[2 * i + 1] = q.y;
      labels[i] = p.label;
    });
    const has = req.maskPrompt ? 1 : 0;
    const maskInput = req.maskPrompt ? roiMaskToSamPrompt(req.maskPrompt, maskSide) : new Float32Array(maskSide * maskSide);
    const r = await this.models.samDecoder.run({
      [m.inputs.imageEmbed]: e.imageEmbed,
      [m.inputs.highRes0]: e.highRes0,
      [m.inputs.highRes1]: e.highRes1,
      [m.inputs.pointCoords]: { data: coords, dims: [1, n, 2] },
      [m.inputs.pointLabels]: { data: labels, dims: [1, n] },
      [m.inputs.maskInput]: { data: maskInput, dims: [1, 1, maskSide, maskSide] },
      [m.inputs.hasMaskInput]: { data: Float32Array.of(has), dims: [1] },
    });
    const masks = r[m.outputs.masks];
    const iou = r[m.outputs.iou];
    if (!masks || !iou) throw new ModelError(m.file, `outputs ${m.outputs.masks} and ${m.outputs.iou} are needed (outputs: ${Object.keys(r).join(', ')})`);
    finiteOrThrow(masks, m.file, m.outputs.masks);
    const [, count, h, w] = masks.dims as [number, number, number, number];
    if (h !== w) throw new ModelError(m.file, `output ${m.outputs.masks} is [${masks.dims.join(', ')}]; square masks are expected`);
    // Several candidate masks (multimask output): keep the one with the best predicted IoU.
    let best = 0;
    for (let k = 1; k < count; k++) if (iou.data[k]! > iou.data[best]!) best = k;
    return samMaskToRoi(masks.data.subarray(best * h * w, (best + 1) * h * w), h);
  }
}

export interface OnnxBackend extends Backend {
  readonly dino: DinoEncoder;
  readonly sam: Sam2Encoder;
  readonly decoder: Sam2Decoder;
}

export interface OnnxBackendOptions {
  /**
   * Bytes the encoders may keep for slices they may see again (DINOv2 grids and SAM 2.1
   * embeddings, half each; least recently used out first). Default 2 GiB.
   */
  cacheBytes?: number;
}

export function onnxBackend(models: OnnxModels, options: OnnxBackendOptions = {}): OnnxBackend {
  const bytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES / 2;
  const sam = new Sam2Encoder(models, bytes / 2);
  return { name: 'onnx', dino: new DinoEncoder(models, bytes / 2), sam, decoder: new Sam2Decoder(models, sam) };
}
