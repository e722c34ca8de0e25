/**
 * The evaluation protocol SynPo follows (SSL-ALPNet / ADNet / ProtoSAM): datasets' organ labels,
 * folds, 1-shot "EP1" slice matching in three parts, and Dice.
 */

export type Organ = 'liver' | 'spleen' | 'left-kidney' | 'right-kidney';
export const ORGANS: readonly Organ[] = ['liver', 'right-kidney', 'left-kidney', 'spleen'];

export interface DatasetLayout {
  name: 'chaos-t2' | 'sabs-ct';
  /** Case ids in sorted order. */
  cases: readonly number[];
  labels: Record<Organ, number>;
  /** Query cases and the support case of fold k. */
  fold(k: number): { queries: number[]; support: number };
  folds: number;
  /** The paper's best negative band for this dataset. */
  band: { alpha: number; beta: number };
  image(id: number): string;
  label(id: number): string;
}

export const CHAOS_T2: DatasetLayout = {
  name: 'chaos-t2',
  cases: [1, 2, 3, 5, 8, 10, 13, 15, 19, 20, 21, 22, 31, 32, 33, 34, 36, 37, 38, 39],
  labels: { liver: 1, 'right-kidney': 2, 'left-kidney': 3, spleen: 4 },
  folds: 5,
  fold(k) {
    const c = this.cases;
    return { queries: c.slice(4 * k, 4 * k + 4), support: c[(4 * k + 4) % c.length]! };
  },
  band: { alpha: 0, beta: -1.5 },
  image: (id) => `image_${id}.nii.gz`,
  label: (id) => `label_${id}.nii.gz`,
};

export const SABS_CT: DatasetLayout = {
  name: 'sabs-ct',
  cases: Array.from({ length: 30 }, (_, i) => i),
  labels: { spleen: 1, 'right-kidney': 2, 'left-kidney': 3, liver: 6 },
  folds: 5,
  fold(k) {
    return { queries: Array.from({ length: 6 }, (_, i) => 6 * k + i), support: (6 * k + 6) % 30 };
  },
  band: { alpha: 1, beta: -0.5 },
  image: (id) => `image_${id}.nii.gz`,
  label: (id) => `label_${id}.nii.gz`,
};

export const LAYOUTS = { 'chaos-t2': CHAOS_T2, 'sabs-ct': SABS_CT } as const;

/**
 * The layout with case `support` as every fold's support (how much a result owes to the support
 * scan the protocol happened to pick): a fold's queries are its own queries and its own support,
 * less `support`, so rotating `support` over a fold's cases makes each of them the support once
 * and queries the rest.
 */
export function withSupport(layout: DatasetLayout, support: number): DatasetLayout {
  if (!layout.cases.includes(support)) throw new RangeError(`${layout.name} has no case ${support} (cases: ${layout.cases.join(', ')})`);
  return {
    ...layout,
    fold(k) {
      const f = layout.fold(k);
      return { queries: [...f.queries, f.support].filter((id) => id !== support).sort((a, b) => a - b), support };
    },
  };
}

/** The TotalSegmentator v1 ids of the four organs (shared/data/totalseg). */
export const TOTALSEG_LABELS: Record<Organ, number> = { spleen: 1, 'right-kidney': 2, 'left-kidney': 3, liver: 5 };

/** Organ names by label value for the known label layouts (the CLI's `--labels`, the demo's picker). */
export const LABEL_MAPS = {
  'chaos-t2': CHAOS_T2.labels,
  'sabs-ct': SABS_CT.labels,
  totalseg: TOTALSEG_LABELS,
} as const satisfies Record<string, Record<Organ, number>>;
export type LabelMapName = keyof typeof LABEL_MAPS;

/** The organ name of a label value in a layout, or `label-N` for a value it does not name. */
export function organName(map: LabelMapName | null, value: number): string {
  const names = map ? LABEL_MAPS[map] : {};
  return Object.entries(names).find(([, v]) => v === value)?.[0] ?? `label-${value}`;
}

/**
 * The layout a label volume most likely follows, from the values present: CHAOS-T2 has exactly
 * 1–4; Synapse has up to 13 labels (liver 6); TotalSegmentator has more than 13. Null when the
 * values fit none of them (the labels are then named `label-N`).
 */
export function recogniseLabelMap(values: readonly number[]): LabelMapName | null {
  const present = new Set(values.filter((v) => v > 0));
  if (present.size === 0) return null;
  const max = Math.max(...present);
  const covers = (map: LabelMapName) => Object.values(LABEL_MAPS[map]).every((v) => present.has(v));
  if (max <= 4 && covers('chaos-t2')) return 'chaos-t2';
  if (max <= 13 && covers('sabs-ct')) return 'sabs-ct';
  if (max > 13 && covers('totalseg')) return 'totalseg';
  return null;
}

/**
 * Whether any of `values[from..to)` is non-zero: a plain scan that stops at the first (a callback
 * per pixel, as `subarray(…).some(…)` makes, showed in profiles of whole volumes).
 */
export function anySet(values: ArrayLike<number>, from = 0, to = values.length): boolean {
  // Mask bytes four at a time where they align (a slice of 65,536 always does).
  if (values instanceof Uint8Array && (values.byteOffset + from) % 4 === 0 && (to - from) % 4 === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset + from, (to - from) / 4);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return true;
    return false;
  }
  for (let i = from; i < to; i++) if (values[i] !== 0) return true;
  return false;
}

/** The distinct non-zero values of a label volume, ascending (indexed, the set touched only where the value changes: millions of voxels). */
export function labelValues(data: ArrayLike<number>): number[] {
  const values = new Set<number>();
  for (let i = 0, last = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v !== last && v !== 0) values.add(v);
    last = v;
  }
  return [...values].sort((a, b) => a - b);
}

/** First and last slice (z) whose mask is non-empty, or null. */
export function organRange(masks: Uint8Array, nz: number): [number, number] | null {
  const plane = masks.length / nz;
  let first = -1;
  let last = -1;
  for (let z = 0; z < nz; z++) {
    if (!anySet(masks, z * plane, (z + 1) * plane)) continue;
    if (first < 0) first = z;
    last = z;
  }
  return first < 0 ? null : [first, last];
}

/**
 * The slice of `[first, last]` nearest to z that `has` the organ (the lower of two as near; z
 * itself when none has): an organ's range can skip a slice (CHAOS case 3's left kidney skips one).
 */
export function nearestOrganSlice(z: number, [first, last]: [number, number], has: (z: number) => boolean): number {
  for (let d = 0; d <= last - first; d++) {
    if (z - d >= first && z - d <= last && has(z - d)) return z - d;
    if (z + d >= first && z + d <= last && has(z + d)) return z + d;
  }
  return z;
}

/**
 * EP1: the support slices at 1/6, 1/2 and 5/6 of the support's organ range (the middle of each
 * third). Given the organ's masks (`nz` slices), a chosen slice the organ skips moves to the
 * nearest slice that has it (nearestOrganSlice): an empty support slice has no prototype.
 */
export function supportSlices([first, last]: [number, number], organ?: { masks: Uint8Array; nz: number }): [number, number, number] {
  const L = last - first + 1;
  const plane = organ ? organ.masks.length / organ.nz : 0;
  const has = (z: number) => !organ || anySet(organ.masks, z * plane, (z + 1) * plane);
  return [0, 1, 2].map((k) => nearestOrganSlice(first + Math.floor(((2 * k + 1) * L) / 6), [first, last], has)) as [number, number, number];
}

/** EP1: which third (0, 1, 2) of the query's organ range slice z falls in. */
export function queryPart(z: number, [first, last]: [number, number]): number {
  const L = last - first + 1;
  return Math.min(2, Math.floor((3 * (z - first)) / L));
}

export interface Overlap {
  tp: number;
  fp: number;
  fn: number;
}

export function overlap(pred: ArrayLike<number>, truth: ArrayLike<number>): Overlap {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]! !== 0;
    const t = truth[i]! !== 0;
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn };
}

/** Dice from summed counts; 1 when both are empty. */
export function dice({ tp, fp, fn }: Overlap): number {
  return tp + fp + fn === 0 ? 1 : (2 * tp) / (2 * tp + fp + fn);
}

export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { mean, std: Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length) };
}
