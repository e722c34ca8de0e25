/**
 * The demo page: load data (the phantom, or files from disk that never leave the browser), pick
 * the support slice and organ or paint a support mask, run SynPo in a worker on WebGPU (or the
 * CPU references), and look at the result: the mask over the query, the fused confidence, the
 * points, Dice against the truth, per-stage timings; download the mask as NIfTI.
 */
import { summarizeAdapter } from '@synpo/gpu';
import { upsampleBilinearReference } from '@synpo/gpu/kernels';
import { decodeImage2D, decodeNifti, encodeNiftiMask, imageAsVolume, type Volume } from '@synpo/io';
import {
  combineOrgans,
  dice,
  GRID,
  labelsToRoi,
  labelValues,
  organName,
  overlap,
  PAPER_BANDS,
  phantomPatient,
  PHANTOM_LABELS,
  PIXELS,
  prepareVolume,
  recogniseLabelMap,
  ROI,
  roiToVolume,
  encodingShares,
  encodingsFromOthers,
  organLoad,
  splitOrgans,
  type HostEncoding,
  type LabelMapName,
  type Overlap,
  type PreparedVolume,
} from '@synpo/core';
import type { Device, EncodingsMessage, RunRequest, SliceMessage, VolumeMessage, VolumeRequest, WorkerMessage } from './protocol.ts';
import { VolumeViewer, type OverlayOrgan } from './viewer.ts';

interface Case {
  volume: Volume;
  prepared: PreparedVolume;
  labels: Volume | null;
  /** The label values present (0 left out), rising: read once, the views ask for them often. */
  values: number[];
  /** The files' own bytes when they are NIfTI (what the viewer shows). */
  niftiBytes: Uint8Array | null;
  labelNiftiBytes: Uint8Array | null;
}

/** A picked file: decoded, and its bytes when it is NIfTI. */
interface Picked {
  volume: Volume;
  nifti: Uint8Array | null;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const state = {
  support: null as Case | null,
  query: null as Case | null,
  organ: 0,
  /** The phantom's own organ names; files are named by the label layout (picked or recognised). */
  phantomNames: null as Map<number, string> | null,
  layout: null as LabelMapName | null,
  supportMasks: new Uint8Array(0) as Uint8Array,
  queryTruth: null as Uint8Array | null,
  results: new Map<number, SliceMessage>(),
  /** The last whole-volume run: every picked organ, as the CLI's `segment --organs` writes it. */
  volume: null as VolumeMessage | null,
  /** A support mask painted in the viewer ([nz][ROI·ROI]): the organ of the next volume run. */
  painted: null as Uint8Array | null,
  painting: false,
  /** No hardware WebGPU adapter (none, or only a software one): "auto" runs the CPU references. */
  softwareOnly: true,
  /** Workers the last volume run was spread over. */
  workers: 1,
  /** The whole-volume run's labels as the NIfTI the page downloads (and the viewer shows). */
  maskBytes: null as Uint8Array | null,
  started: 0,
  path: '' as '' | 'gpu' | 'cpu',
  device: '',
  running: false,
  timings: {} as Record<string, number>,
  /** Per slice: bytes to and from the GPU, submissions; and the ONNX models' providers. */
  traffic: '',
  error: '',
};
// For people and for the end-to-end test: what the page shows, as data.
(window as unknown as { synpo: unknown }).synpo = {
  get path() {
    return state.path;
  },
  get device() {
    return state.device;
  },
  get running() {
    return state.running;
  },
  get error() {
    return state.error;
  },
  get slices() {
    return state.results.size;
  },
  dice: () => volumeDice(),
  /** The whole-volume run: organs with their Dice over the segmented range and the whole volume. */
  volume: () => volumeReport(),
  organNames: () => [...$<HTMLSelectElement>('organs').options].map((o) => o.textContent),
  /** Volumes NiiVue holds: the query, then its overlays. */
  get viewerVolumes() {
    return viewer.volumes;
  },
  get painting() {
    return state.painting;
  },
  get workers() {
    return state.workers;
  },
  get drawnVoxels() {
    return viewer.drawnVoxels;
  },
  /** Voxels of the support mask (ROI grid) the next run uses. */
  get supportVoxels() {
    return state.supportMasks.reduce((a, v) => a + v, 0);
  },
};
const viewer = new VolumeViewer($<HTMLCanvasElement>('niivue'));

// ---------------------------------------------------------------- data

async function prepare(image: Picked | Volume, labels: Picked | null): Promise<Case> {
  const picked = 'volume' in image ? image : { volume: image, nifti: null };
  return {
    volume: picked.volume,
    labels: labels?.volume ?? null,
    values: valuesOf(labels?.volume ?? null),
    prepared: prepareVolume(picked.volume),
    niftiBytes: picked.nifti,
    labelNiftiBytes: labels?.nifti ?? null,
  };
}

async function readFile(input: HTMLInputElement): Promise<Picked | null> {
  const file = input.files?.[0];
  if (!file) return null;
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (/\.nii(\.gz)?$/i.test(file.name)) return { volume: decodeNifti(bytes, file.name), nifti: bytes };
  return { volume: imageAsVolume(decodeImage2D(bytes, file.name)), nifti: null };
}

function nameOf(value: number): string {
  return state.phantomNames?.get(value) ?? organName(state.layout, value);
}

function valuesOf(labels: Volume | null): number[] {
  if (!labels) return [];
  return labelValues(labels.data).filter((v) => v > 0);
}

function setOrgan(value: number): void {
  state.organ = value;
  const s = state.support!;
  state.supportMasks = s.labels ? labelsToRoi(s.labels, s.prepared, value) : new Uint8Array(s.prepared.nz * PIXELS);
  state.painted = null;
  const q = state.query!;
  state.queryTruth = q.labels ? labelsToRoi(q.labels, q.prepared, value) : null;
  // Start at the support slice with the most organ.
  let best = 0;
  let bestArea = -1;
  for (let z = 0; z < s.prepared.nz; z++) {
    const area = state.supportMasks.subarray(z * PIXELS, (z + 1) * PIXELS).reduce((a, v) => a + v, 0);
    if (area > bestArea) {
      best = z;
      bestArea = area;
    }
  }
  $<HTMLInputElement>('support-z').value = String(best);
  state.results.clear();
  render();
}

/** Each label value's colour: by its place among the support's labels, the same in every view. */
function colourOf(value: number): number {
  const k = (state.support?.values ?? []).indexOf(value);
  return (k < 0 ? 0 : k) % ORGAN_COLOURS.length;
}

function overlayOrgans(values: readonly number[]): OverlayOrgan[] {
  return values.map((value) => ({ value, name: nameOf(value), rgb: ORGAN_COLOURS[colourOf(value)]! }));
}

/** The query in NiiVue (NIfTI files only), with its labels as the truth overlay when loaded. */
async function showQuery(): Promise<void> {
  const q = state.query!;
  try {
    if (!q.niftiBytes) {
      await viewer.clear();
      return;
    }
    await viewer.showVolume(q.niftiBytes, 'query.nii.gz');
    await showOverlays();
  } catch (error) {
    status(`the viewer cannot show the query: ${(error as Error).message}`, true);
  }
}

async function showOverlays(): Promise<void> {
  const q = state.query;
  if (!q?.niftiBytes) return;
  const truth = $<HTMLInputElement>('show-truth').checked ? q.labelNiftiBytes : null;
  // The truth in one colour (green, as the outline in the slice view), the prediction per organ.
  await viewer.setOverlay('truth', truth, { organs: q.values.map((value) => ({ value, name: nameOf(value), rgb: [60, 230, 90] })) }, 0.35);
  const v = state.volume;
  const prediction = $<HTMLInputElement>('show-prediction').checked ? predictionBytes() : null;
  await viewer.setOverlay(
    'prediction',
    prediction,
    {
      organs: v
        ? overlayOrgans(v.organs.map((o) => o.value))
        : [{ value: state.organ || 1, name: nameOf(state.organ || 1), rgb: ORGAN_COLOURS[colourOf(state.organ)]! }],
    },
    0.6,
  );
  const layers = sliceLayers();
  await viewer.setOverlay('heat', $<HTMLInputElement>('show-heat').checked ? (layers?.heat ?? null) : null, { heat: { max: HEAT_LEVELS } }, 0.5);
  await viewer.setOverlay(
    'points',
    $<HTMLInputElement>('show-points').checked ? (layers?.points ?? null) : null,
    {
      organs: [
        { value: 1, name: 'positive point', rgb: [255, 255, 255] },
        { value: 2, name: 'negative point', rgb: [20, 20, 20] },
      ],
    },
    1,
  );
}

/** The NIfTI the page downloads: the whole-volume run's labels, or the single-slice runs' masks. */
function predictionBytes(): Uint8Array | null {
  if (state.volume) return state.maskBytes;
  if (state.results.size === 0) return null;
  const q = state.query!;
  const masks = new Uint8Array(q.prepared.nz * PIXELS);
  for (const [z, r] of state.results) masks.set(r.final, z * PIXELS);
  return encodeNiftiMask(roiToVolume(masks, q.prepared, state.organ || 1), q.volume, true);
}

const HEAT_LEVELS = 1000;

/**
 * The single-slice runs' fused confidence (bilinear to the ROI, scaled to 1…HEAT_LEVELS per
 * slice) and prompt points (discs: 1 positive, 2 negative), on the query's grid as NIfTI: NiiVue
 * layers on the slices that were segmented alone.
 */
function sliceLayers(): { heat: Uint8Array; points: Uint8Array } | null {
  const q = state.query;
  if (!q || state.results.size === 0) return null;
  const heat = new Uint16Array(q.prepared.nz * PIXELS);
  const points = new Uint8Array(q.prepared.nz * PIXELS);
  for (const [z, r] of state.results) {
    const up = upsampleBilinearReference(r.synmap, { B: 1, inH: GRID, inW: GRID, outH: ROI, outW: ROI });
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of up) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let i = 0; i < PIXELS; i++) heat[z * PIXELS + i] = 1 + Math.round(((HEAT_LEVELS - 1) * (up[i]! - lo)) / Math.max(hi - lo, 1e-6));
    for (const p of [...r.positives, ...r.negatives]) {
      for (let dy = -3; dy <= 3; dy++) {
        for (let dx = -3; dx <= 3; dx++) {
          const x = Math.round(p.x) + dx;
          const y = Math.round(p.y) + dy;
          if (dx * dx + dy * dy > 9 || x < 0 || y < 0 || x >= ROI || y >= ROI) continue;
          points[z * PIXELS + y * ROI + x] = p.label === 1 ? 1 : 2;
        }
      }
    }
  }
  return {
    heat: encodeNiftiMask(roiToVolume(heat, q.prepared, 'as-is'), q.volume, true),
    points: encodeNiftiMask(roiToVolume(points, q.prepared, 'as-is'), q.volume, true),
  };
}

/** Fills the organ pickers with the support's labels, named by the layout (picked or recognised). */
function nameOrgans(): void {
  const organs = state.support!.values;
  const picked = $<HTMLSelectElement>('layout').value;
  state.layout = picked === 'auto' ? recogniseLabelMap(organs) : picked === 'none' ? null : (picked as LabelMapName);
  const shown = $<HTMLSelectElement>('organ');
  const before = shown.value;
  const many = $<HTMLSelectElement>('organs');
  shown.innerHTML = '';
  many.innerHTML = '';
  for (const v of organs.length ? organs : [1]) {
    shown.append(new Option(nameOf(v), String(v)));
    many.append(new Option(nameOf(v), String(v), true, true));
  }
  if (before && organs.includes(Number(before))) shown.value = before;
}

function loaded(): void {
  const s = state.support!;
  const q = state.query!;
  $<HTMLInputElement>('support-z').max = String(s.prepared.nz - 1);
  $<HTMLInputElement>('query-z').max = String(q.prepared.nz - 1);
  $<HTMLInputElement>('query-z').value = String(Math.floor(q.prepared.nz / 2));
  state.volume = null;
  state.maskBytes = null;
  nameOrgans();
  setOrgan(Number($<HTMLSelectElement>('organ').value));
  void showQuery();
  status(`loaded: support ${s.volume.dims.join('×')}, query ${q.volume.dims.join('×')}`);
}

async function loadPhantom(): Promise<void> {
  status('building the phantom…');
  await new Promise((r) => setTimeout(r, 0));
  const a = phantomPatient(1000, { slices: 20 });
  const b = phantomPatient(1001, { slices: 20 });
  state.phantomNames = new Map(Object.entries(PHANTOM_LABELS).map(([name, v]) => [v, name]));
  state.support = await prepare(a.image, { volume: a.labels, nifti: null });
  state.query = await prepare(b.image, { volume: b.labels, nifti: null });
  loaded();
}

/** Loads started so far: picking several files fires several loads, and only the latest may land. */
let loads = 0;

async function loadFiles(): Promise<void> {
  const load = ++loads;
  try {
    const supportImage = await readFile($('support-image'));
    if (!supportImage) return;
    const supportLabels = await readFile($('support-labels'));
    const queryImage = await readFile($('query-image'));
    const queryLabels = await readFile($('query-labels'));
    for (const [img, lab, what] of [
      [supportImage, supportLabels, 'support'],
      [queryImage, queryLabels, 'query'],
    ] as const) {
      if (img && lab && img.volume.dims.join() !== lab.volume.dims.join())
        throw new Error(`the ${what} labels are ${lab.volume.dims.join('×')} but the image is ${img.volume.dims.join('×')}`);
    }
    const support = await prepare(supportImage, supportLabels);
    const query = queryImage ? await prepare(queryImage, queryLabels) : support;
    if (load !== loads) return;
    state.phantomNames = null;
    state.support = support;
    state.query = query;
    loaded();
  } catch (error) {
    if (load === loads) status(`cannot load: ${(error as Error).message}`, true);
  }
}

// ---------------------------------------------------------------- drawing

function drawGrey(ctx: CanvasRenderingContext2D, image: Float32Array): ImageData {
  const img = ctx.createImageData(ROI, ROI);
  for (let i = 0; i < PIXELS; i++) {
    const g = Math.round(255 * image[i]!);
    img.data.set([g, g, g, 255], 4 * i);
  }
  return img;
}

function tint(img: ImageData, mask: ArrayLike<number>, rgb: [number, number, number], alpha: number): void {
  for (let i = 0; i < PIXELS; i++) {
    if (!mask[i]) continue;
    for (let c = 0; c < 3; c++) img.data[4 * i + c] = Math.round((1 - alpha) * img.data[4 * i + c]! + alpha * rgb[c]!);
  }
}

function outline(img: ImageData, mask: ArrayLike<number>, rgb: [number, number, number]): void {
  for (let y = 1; y < ROI - 1; y++) {
    for (let x = 1; x < ROI - 1; x++) {
      const i = y * ROI + x;
      if (mask[i] && (!mask[i - 1] || !mask[i + 1] || !mask[i - ROI] || !mask[i + ROI])) img.data.set([...rgb, 255], 4 * i);
    }
  }
}

function mark(img: ImageData, x: number, y: number, positive: boolean): void {
  for (let d = -3; d <= 3; d++) {
    const points = positive
      ? [
          [x + d, y],
          [x, y + d],
        ]
      : [
          [x + d, y + d],
          [x + d, y - d],
        ];
    for (const [px, py] of points) {
      if (px! < 0 || py! < 0 || px! >= ROI || py! >= ROI) continue;
      img.data.set(positive ? [255, 255, 255, 255] : [0, 0, 0, 255], 4 * (py! * ROI + px!));
    }
  }
}

function render(): void {
  if (!state.support || !state.query) return;
  const sz = Number($<HTMLInputElement>('support-z').value);
  const qz = Number($<HTMLInputElement>('query-z').value);
  $('support-z-value').textContent = String(sz);
  $('query-z-value').textContent = String(qz);
  const sctx = $<HTMLCanvasElement>('support-view').getContext('2d')!;
  const simg = drawGrey(sctx, state.support.prepared.slices.subarray(sz * PIXELS, (sz + 1) * PIXELS));
  tint(simg, state.supportMasks.subarray(sz * PIXELS, (sz + 1) * PIXELS), [60, 200, 90], 0.45);
  sctx.putImageData(simg, 0, 0);

  const qctx = $<HTMLCanvasElement>('query-view').getContext('2d')!;
  const qimg = drawGrey(qctx, state.query.prepared.slices.subarray(qz * PIXELS, (qz + 1) * PIXELS));
  const r = state.results.get(qz);
  const v = state.volume;
  if (r) tint(qimg, r.final, [230, 60, 50], 0.5);
  else if (v) {
    // The whole-volume run: each organ in its own colour.
    const labels = v.labels.subarray(qz * PIXELS, (qz + 1) * PIXELS);
    v.organs.forEach((o) =>
      tint(
        qimg,
        labels.map((x) => (x === o.value ? 1 : 0)),
        ORGAN_COLOURS[colourOf(o.value)]!,
        0.5,
      ),
    );
  }
  if (state.queryTruth) outline(qimg, state.queryTruth.subarray(qz * PIXELS, (qz + 1) * PIXELS), [60, 230, 90]);
  if (r) for (const p of [...r.positives, ...r.negatives]) mark(qimg, Math.round(p.x), Math.round(p.y), p.label === 1);
  qctx.putImageData(qimg, 0, 0);

  const hctx = $<HTMLCanvasElement>('heat-view').getContext('2d')!;
  const himg = hctx.createImageData(ROI, ROI);
  if (r) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of r.synmap) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let i = 0; i < PIXELS; i++) {
      const v = (r.synmap[Math.floor(i / ROI / 4) * GRID + Math.floor((i % ROI) / 4)]! - lo) / Math.max(hi - lo, 1e-6);
      himg.data.set([Math.round(255 * v), Math.round(160 * v), Math.round(255 * (1 - v)), 255], 4 * i);
    }
  }
  hctx.putImageData(himg, 0, 0);

  const dice = sliceDice(qz);
  const total = volumeDice();
  const outside = v && !r && (qz < v.range[0] || qz > v.range[1]);
  $('dice').textContent = [
    outside ? `slice ${qz} is not segmented: it lies outside the organs' range ${v.range[0]}–${v.range[1]} carried over from the support` : '',
    dice === null ? '' : `Dice on this slice: ${(100 * dice).toFixed(1)}`,
    total === null ? '' : `Dice over the ${state.results.size} segmented slice(s): ${(100 * total).toFixed(1)}`,
  ]
    .filter(Boolean)
    .join(' · ');
  $('volume-summary').textContent = v
    ? volumeReport()!
        .organs.map(
          (o) =>
            `${COLOUR_NAMES[colourOf(o.value)]} ${o.name} (slices ${o.range[0]}–${o.range[1]}${o.diceRange === null ? '' : `: Dice ${(100 * o.diceRange).toFixed(1)} over those slices, ${(100 * o.diceVolume!).toFixed(1)} over the whole volume`})`,
        )
        .join(' · ') + ` — ${v.seconds.toFixed(1)} s for ${v.organSlices} organ-slices`
    : '';
  $('timings').textContent = Object.keys(state.timings).length
    ? `per slice (ms): ${Object.entries(state.timings)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')} — on ${state.path === 'gpu' ? `WebGPU (${state.device})` : 'the CPU references'}`
    : '';
  $('transfers').textContent = state.traffic;
  $<HTMLButtonElement>('download').disabled = state.results.size === 0 && !v;
}

const ORGAN_COLOURS: [number, number, number][] = [
  [230, 60, 50],
  [60, 120, 240],
  [240, 200, 40],
  [200, 70, 220],
  [40, 210, 210],
  [250, 140, 30],
];
const COLOUR_NAMES = ['red', 'blue', 'yellow', 'purple', 'cyan', 'orange'];

/**
 * Each organ of the whole-volume run with its Dice against the query's labels (when loaded), over
 * the organ's own range of slices (what was segmented) and over the whole volume.
 */
interface VolumeReport {
  organs: { name: string; value: number; range: [number, number]; diceRange: number | null; diceVolume: number | null }[];
  range: [number, number];
  seconds: number;
}

/** The report of the volume run it was made for: render asks on every slider step. */
let reported: { volume: VolumeMessage; report: VolumeReport } | null = null;

function volumeReport(): VolumeReport | null {
  const v = state.volume;
  const q = state.query;
  if (!v || !q) return null;
  if (reported?.volume !== v) reported = { volume: v, report: reportOf(v, q) };
  return reported.report;
}

function reportOf(v: VolumeMessage, q: Case): VolumeReport {
  return {
    range: v.range,
    seconds: v.seconds,
    organs: v.organs.map((o) => {
      if (!q.labels) return { ...o, diceRange: null, diceVolume: null };
      const truth = labelsToRoi(q.labels, q.prepared, o.value);
      const mine = v.labels.map((x) => (x === o.value ? 1 : 0));
      const within = (a: Uint8Array | Uint16Array) => a.subarray(o.range[0] * PIXELS, (o.range[1] + 1) * PIXELS);
      return {
        ...o,
        diceRange: dice(overlap(within(mine) as Uint8Array, within(truth) as Uint8Array)),
        diceVolume: dice(overlap(Uint8Array.from(mine), truth)),
      };
    }),
  };
}

function sliceOverlap(z: number): Overlap {
  return overlap(state.results.get(z)!.final, state.queryTruth!.subarray(z * PIXELS, (z + 1) * PIXELS));
}

function sliceDice(z: number): number | null {
  if (!state.queryTruth || !state.results.has(z)) return null;
  return dice(sliceOverlap(z));
}

function volumeDice(): number | null {
  if (!state.queryTruth || state.results.size === 0) return null;
  const sum: Overlap = { tp: 0, fp: 0, fn: 0 };
  for (const z of state.results.keys()) {
    const c = sliceOverlap(z);
    sum.tp += c.tp;
    sum.fp += c.fp;
    sum.fn += c.fn;
  }
  return dice(sum);
}

function status(text: string, error = false): void {
  $('status').textContent = text;
  if (error) state.error = text;
}

// ---------------------------------------------------------------- running

let worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });

function setRunning(running: boolean): void {
  state.running = running;
  $<HTMLButtonElement>('cancel').disabled = !running;
  for (const id of ['run-slice', 'run-volume', 'load-phantom']) $<HTMLButtonElement>(id).disabled = running;
  state.started = performance.now();
}

async function modelFiles(): Promise<Record<string, ArrayBuffer>> {
  const files = $<HTMLInputElement>('model-files').files ?? [];
  const out: Record<string, ArrayBuffer> = {};
  for (const f of Array.from(files)) out[f.name] = await f.arrayBuffer();
  return out;
}

/** What every run takes from the page: device, backend (and model files), band, seed. */
async function runSettings(query: PreparedVolume): Promise<Pick<RunRequest, 'device' | 'backend' | 'models' | 'band' | 'seed'>> {
  const backend = $<HTMLSelectElement>('backend').value as 'weight-free' | 'onnx';
  return {
    device: $<HTMLSelectElement>('device-choice').value as Device,
    backend,
    ...(backend === 'onnx' && { models: await modelFiles() }),
    // The paper's best band for the modality (CT in HU, anything else as MR): the CLI's --band sabs-ct / chaos-t2.
    band: query.intensity === 'ct' ? PAPER_BANDS['synapse-ct'] : PAPER_BANDS['chaos-mri'],
    seed: 0,
  };
}

async function run(zs: number[]): Promise<void> {
  if (!state.support || !state.query) {
    status('load data first', true);
    return;
  }
  const sz = Number($<HTMLInputElement>('support-z').value);
  const supportMask = state.supportMasks.slice(sz * PIXELS, (sz + 1) * PIXELS);
  if (!supportMask.some((v) => v)) {
    status(`support slice ${sz} has no mask: pick another slice or paint one`, true);
    return;
  }
  const queries = new Float32Array(zs.length * PIXELS);
  zs.forEach((z, i) => queries.set(state.query!.prepared.slices.subarray(z * PIXELS, (z + 1) * PIXELS), i * PIXELS));
  const req: RunRequest = {
    type: 'run',
    ...(await runSettings(state.query.prepared)),
    supportImage: state.support.prepared.slices.slice(sz * PIXELS, (sz + 1) * PIXELS),
    supportMask,
    zs,
    queries,
  };
  state.error = '';
  state.volume = null;
  state.maskBytes = null;
  void showOverlays();
  setRunning(true);
  status(`segmenting ${zs.length} slice(s)…`);
  $<HTMLProgressElement>('progress').value = 0;
  worker.postMessage(req, [req.queries.buffer, req.supportImage.buffer, req.supportMask.buffer]);
}

/**
 * The whole query volume, every picked organ in one pass (the CLI's `segment --organs`): the
 * protocol's support slices from the support labels, or the painted slice when there are none.
 */
async function runVolume(): Promise<void> {
  const s = state.support;
  const q = state.query;
  if (!s || !q) {
    status('load data first', true);
    return;
  }
  const values = [...$<HTMLSelectElement>('organs').selectedOptions].map((o) => Number(o.value));
  let organs: VolumeRequest['organs'];
  let supportSlice: number | undefined;
  if (state.painted) {
    // A mask painted in the viewer: the protocol's support slices over its own range.
    organs = [{ name: 'painted organ', value: 1, masks: state.painted }];
  } else if (s.labels) {
    if (values.length === 0) {
      status('pick at least one organ for the volume', true);
      return;
    }
    organs = values.map((value) => ({ name: nameOf(value), value, masks: labelsToRoi(s.labels!, s.prepared, value) }));
  } else {
    supportSlice = Number($<HTMLInputElement>('support-z').value);
    if (!state.supportMasks.subarray(supportSlice * PIXELS, (supportSlice + 1) * PIXELS).some((v) => v)) {
      status(`support slice ${supportSlice} has no mask: paint one`, true);
      return;
    }
    organs = [{ name: 'organ', value: 1, masks: state.supportMasks.slice() }];
  }
  const settings = await runSettings(q.prepared);
  const cpu = settings.device === 'cpu' || (settings.device === 'auto' && state.softwareOnly);
  const req: VolumeRequest = {
    type: 'volume',
    ...settings,
    support: { slices: s.prepared.slices, nz: s.prepared.nz, volume: { source: s.volume.source } },
    // On the GPU the query's voxels go up as the file's own integers and become slices there.
    query: { slices: q.prepared.slices, nz: q.prepared.nz, ...(!cpu && { voxels: q.prepared.voxels }), volume: { source: q.volume.source } },
    organs,
    ...(supportSlice !== undefined && { supportSlice }),
  };
  state.error = '';
  state.results.clear();
  state.volume = null;
  state.maskBytes = null;
  void showOverlays();
  setRunning(true);
  status(`segmenting ${organs.map((o) => o.name).join(', ')} over the volume…`);
  $<HTMLProgressElement>('progress').value = 0;
  // On the CPU references, organs are spread over workers (one core each); the page combines
  // their masks as one call would (combineOrgans), so the result is the same.
  const count = cpu && req.backend === 'weight-free' ? Math.min(organs.length, Math.max(1, navigator.hardwareConcurrency || 1)) : 1;
  state.workers = count;
  try {
    if (count === 1) {
      worker.postMessage(req);
      return;
    }
    // Dealt by their work (splitOrgans: slices, heavier for a larger organ), about even between the
    // workers; each query slice is encoded by one worker and sent to the others that need it.
    const whole = { support: req.support, query: req.query, organs, ...(supportSlice !== undefined && { supportSlice }) };
    const loads = organs.map((organ) => organLoad(whole, organ));
    const dealt = splitOrgans(whole, count, loads);
    const { needs, shares } = encodingShares(whole, dealt, loads);
    split = {
      parts: new Array(count).fill(null),
      progress: Array.from({ length: count }, () => ({ done: 0, total: 0 })),
      values: organs.map((o) => o.value),
      t0: performance.now(),
      needs,
      shares,
      encoded: new Array(count).fill(null),
    };
    for (let k = 0; k < count; k++) {
      const mine = dealt[k]!.map((i) => organs[i]!);
      target(k).postMessage({ ...req, organs: mine, part: true, encode: shares[k]! } satisfies VolumeRequest);
    }
  } catch (error) {
    setRunning(false);
    status(`cannot start the run: ${(error as Error).message}`, true);
  }
}

/**
 * A volume run spread over workers: each one's organs, progress, and results as they come; the
 * slices each needs and encodes for all, and the encodings each has sent.
 */
let split: {
  parts: (VolumeMessage | null)[];
  progress: { done: number; total: number }[];
  values: number[];
  t0: number;
  needs: number[][];
  shares: number[][];
  encoded: (Map<number, HostEncoding> | null)[];
} | null = null;
/** Workers beside `worker` for spread runs (index k − 1 for part k). */
let helpers: Worker[] = [];
/** The worker of part k. */
const target = (k: number): Worker => (k === 0 ? worker : (helpers[k - 1] ??= spawn(k)));

function spawn(k: number): Worker {
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  w.onmessage = (event: MessageEvent<WorkerMessage>) => onMessage(event, k);
  return w;
}

/** The parts of a spread run combined into the one-call result. */
function combineParts(parts: VolumeMessage[], values: number[], t0: number): VolumeMessage {
  const order = (v: number) => values.indexOf(v);
  const own = parts.flatMap((p) => p.parts!).sort((a, b) => order(a.value) - order(b.value));
  const organs = parts.flatMap((p) => p.organs).sort((a, b) => order(a.value) - order(b.value));
  const { labels } = combineOrgans(own, state.query!.prepared.nz);
  return {
    type: 'volume',
    labels,
    organs,
    range: [Math.min(...organs.map((o) => o.range[0])), Math.max(...organs.map((o) => o.range[1]))],
    organSlices: parts.reduce((n, p) => n + p.organSlices, 0),
    propagatedSlices: parts.reduce((n, p) => n + p.propagatedSlices, 0),
    seconds: (performance.now() - t0) / 1000,
  };
}

function onMessage(event: MessageEvent<WorkerMessage>, from = 0): void {
  let m = event.data;
  if (split && m.type === 'progress') {
    split.progress[from] = { done: m.done, total: m.total };
    const done = split.progress.reduce((n, p) => n + p.done, 0);
    m = { type: 'progress', done, total: split.progress.reduce((n, p) => n + p.total, 0), label: `${split.parts.length} workers` };
  } else if (split && m.type === 'encoded') {
    // Once every worker has encoded its share, each gets the slices it needs from the others.
    split.encoded[from] = m.encodings;
    if (split.encoded.some((e) => !e)) return;
    const all = new Map(split.encoded.flatMap((e) => [...e!]));
    const { needs, shares } = split;
    needs.forEach((zs, k) => target(k).postMessage({ type: 'encodings', encodings: encodingsFromOthers(zs, shares[k]!, all) } satisfies EncodingsMessage));
    return;
  } else if (split && m.type === 'volume') {
    split.parts[from] = m;
    if (split.parts.some((p) => !p)) return;
    m = combineParts(split.parts as VolumeMessage[], split.values, split.t0);
    split = null;
  } else if (split && m.type === 'error') {
    cancel();
  }
  if (m.type === 'device') {
    state.path = m.path;
    state.device = m.description;
    const badge = $('device');
    badge.textContent = m.path === 'gpu' ? `WebGPU: ${m.description}` : `CPU references${m.notice ? ` (${m.notice})` : ''}`;
    badge.className = `badge ${m.path}`;
  } else if (m.type === 'progress') {
    if (m.total === 0) return;
    $<HTMLProgressElement>('progress').value = m.done / m.total;
    const elapsed = (performance.now() - state.started) / 1000;
    const eta = m.done > 0 && m.done < m.total ? `, about ${Math.ceil((elapsed * (m.total - m.done)) / m.done)} s left` : '';
    status(`segmented ${m.done} of ${m.total} ${m.label === undefined ? 'slice(s)' : `organ-slices (${m.label})`}${eta}`);
  } else if (m.type === 'slice') {
    state.results.set(m.z, m);
    if (Number($<HTMLInputElement>('query-z').value) === m.z || state.results.size === 1) $<HTMLInputElement>('query-z').value = String(m.z);
    render();
  } else if (m.type === 'volume') {
    state.volume = m;
    // The labels on the query's own grid and header, as `synpo segment --organs` writes them: what
    // the page downloads is exactly what the viewer shows.
    state.maskBytes = encodeNiftiMask(roiToVolume(m.labels, state.query!.prepared, 'as-is'), state.query!.volume, true);
    void showOverlays();
    setRunning(false);
    status(
      `done: ${m.organs.map((o) => o.name).join(', ')} over slices ${m.range[0]}–${m.range[1]} in ${m.seconds.toFixed(1)} s${state.workers > 1 ? ` (${state.workers} workers)` : ''}`,
    );
    render();
  } else if (m.type === 'done') {
    state.timings = Object.fromEntries(Object.entries(m.timings).map(([k, v]) => [k, v / m.slices]));
    const kib = (bytes: number) => `${(bytes / 1024 / m.slices).toFixed(0)} KiB`;
    state.traffic = [
      m.transfers ? `to the GPU ${kib(m.transfers.uploadBytes)}, back ${kib(m.transfers.readbackBytes)} per slice, ${m.transfers.submits} submissions` : '',
      m.providers ? `ONNX models on ${m.providers}` : '',
    ]
      .filter(Boolean)
      .join(' · ');
    setRunning(false);
    status(`done: ${m.slices} slice(s)`);
    render();
    void showOverlays();
  } else if (m.type === 'error') {
    setRunning(false);
    status(`error: ${m.message}`, true);
  }
}
worker.onmessage = (event: MessageEvent<WorkerMessage>) => onMessage(event, 0);

function cancel(): void {
  worker.terminate();
  for (const h of helpers) h.terminate();
  helpers = [];
  split = null;
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (event: MessageEvent<WorkerMessage>) => onMessage(event, 0);
  setRunning(false);
  status('cancelled');
}

function download(): void {
  const bytes = predictionBytes();
  if (!bytes) return;
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/gzip' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: 'synpo-mask.nii.gz' });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// ---------------------------------------------------------------- painting

/**
 * Painting the support in the viewer (NIfTI supports): NiiVue's pen and eraser on the support
 * volume, starting from the organ's mask; the drawing comes back on the support's own grid and
 * becomes the support mask through the same mapping as label files.
 */
async function startPainting(): Promise<void> {
  const s = state.support;
  if (!s?.niftiBytes) {
    status('painting in the viewer needs a NIfTI support volume; paint on the support slice instead', true);
    return;
  }
  const mask = state.supportMasks.some((v) => v) ? encodeNiftiMask(roiToVolume(state.supportMasks, s.prepared, 1), s.volume, true) : null;
  await viewer.paint(s.niftiBytes, mask);
  setPainting(true);
  status('painting the support in the viewer: pen or eraser, then "Use the painted mask"');
}

async function finishPainting(keep: boolean): Promise<void> {
  const s = state.support!;
  try {
    if (keep) {
      const bytes = await viewer.finishPainting();
      const drawn = decodeNifti(bytes, 'the painted mask');
      state.supportMasks = labelsToRoi(drawn, s.prepared, 1);
      state.painted = state.supportMasks;
      status(`painted support mask: ${state.supportMasks.reduce((a, v) => a + v, 0)} pixels over the support's slices; "Segment the volume" uses it`);
    } else {
      viewer.cancelPainting();
      status('painting cancelled');
    }
  } catch (error) {
    status(`cannot use the painting: ${(error as Error).message}`, true);
  }
  render();
  // Painting ends once the viewer shows the query again: until then NiiVue is busy on the page's
  // thread (software WebGL is slow), and a click would wait on it.
  try {
    await showQuery();
  } finally {
    setPainting(false);
  }
}

function setPainting(on: boolean): void {
  state.painting = on;
  $<HTMLButtonElement>('paint-viewer').disabled = on;
  for (const id of ['pen', 'eraser', 'use-painting', 'cancel-painting']) $<HTMLInputElement>(id).disabled = !on;
}

function paintAt(event: MouseEvent): void {
  if (!$<HTMLInputElement>('paint').checked || !(event.buttons & 1) || !state.support) return;
  const canvas = $<HTMLCanvasElement>('support-view');
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - rect.left) / rect.width) * ROI);
  const y = Math.floor(((event.clientY - rect.top) / rect.height) * ROI);
  const z = Number($<HTMLInputElement>('support-z').value);
  const value = event.shiftKey ? 0 : 1;
  for (let dy = -6; dy <= 6; dy++) {
    for (let dx = -6; dx <= 6; dx++) {
      const px = x + dx;
      const py = y + dy;
      if (dx * dx + dy * dy > 36 || px < 0 || py < 0 || px >= ROI || py >= ROI) continue;
      state.supportMasks[z * PIXELS + py * ROI + px] = value;
    }
  }
  // The painted mask is the organ of the next volume run too.
  state.painted = state.supportMasks;
  render();
}

// ---------------------------------------------------------------- wiring

$('load-phantom').addEventListener('click', () => void loadPhantom());
for (const id of ['support-image', 'support-labels', 'query-image', 'query-labels']) $(id).addEventListener('change', () => void loadFiles());
$('organ').addEventListener('change', () => setOrgan(Number($<HTMLSelectElement>('organ').value)));
$('support-z').addEventListener('input', render);
$('query-z').addEventListener('input', render);
$('clear-mask').addEventListener('click', () => {
  const z = Number($<HTMLInputElement>('support-z').value);
  state.supportMasks.fill(0, z * PIXELS, (z + 1) * PIXELS);
  state.painted = state.supportMasks;
  render();
});
// The mouse wheel over the query scrolls through its slices.
$('query-view').addEventListener(
  'wheel',
  (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('query-z');
    input.value = String(Math.min(Number(input.max), Math.max(0, Number(input.value) + Math.sign(event.deltaY))));
    render();
  },
  { passive: false },
);
$('paint-viewer').addEventListener('click', () => void startPainting());
$('use-painting').addEventListener('click', () => void finishPainting(true));
$('cancel-painting').addEventListener('click', () => void finishPainting(false));
for (const id of ['pen', 'eraser']) $(id).addEventListener('change', () => viewer.setEraser($<HTMLInputElement>('eraser').checked));
$('support-view').addEventListener('mousedown', paintAt);
$('support-view').addEventListener('mousemove', paintAt);
$('run-slice').addEventListener('click', () => void run([Number($<HTMLInputElement>('query-z').value)]));
$('run-volume').addEventListener('click', () => void runVolume());
$('layout').addEventListener('change', () => {
  if (state.support) {
    nameOrgans();
    render();
    void showOverlays();
  }
});
for (const id of ['show-truth', 'show-prediction', 'show-heat', 'show-points']) $(id).addEventListener('change', () => void showOverlays());
$('cancel').addEventListener('click', cancel);
$('download').addEventListener('click', download);

void (async () => {
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  state.softwareOnly = !adapter || summarizeAdapter(adapter).isFallbackAdapter;
  const badge = $('device');
  badge.textContent = adapter ? 'WebGPU available' : 'no WebGPU adapter: SynPo will run on the CPU references';
  badge.className = `badge ${adapter ? 'gpu' : 'cpu'}`;
})();
