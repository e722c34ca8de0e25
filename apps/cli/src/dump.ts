/**
 * `--dump DIR`: per query slice, a folder of NumPy files with every intermediate SynPo computed,
 * named by the paper's roles whatever the backend. Grids are written channel-last (64×64×C).
 * Slices are the canonical ones SynPo processed (LPS+, feet to head; see @synpo/io's orientation),
 * so `slice-<z>` and the masks and points in it are in that grid.
 * The whole folder is built under a temporary name and renamed when the run succeeds; it carries
 * a marker file, so a later `--dump` into it may replace it (with `--force`), and nothing else is.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CELLS, GRID, PIXELS, ROI, roiToVolume, type PreparedVolume, type SliceResult, type SupportEncoding, type PromptPoint } from '@synpo/core';
import { encodeNpy, identityReorientation } from '@synpo/io';
import { DUMP_MARKER, temporary } from './files.ts';

/** [C][N] channel-first → [N][C] channel-last. */
function channelLast(feat: Float32Array, C: number): Float32Array {
  const out = new Float32Array(feat.length);
  for (let c = 0; c < C; c++) for (let i = 0; i < CELLS; i++) out[i * C + c] = feat[c * CELLS + i]!;
  return out;
}

/** A ROI mask at the canonical query slice's own in-plane resolution (rows × columns). */
function toSlice(mask: Uint8Array, prepared: PreparedVolume): Uint8Array {
  const [nx, ny] = prepared.reorientation.dims;
  return Uint8Array.from(roiToVolume(mask, { region: prepared.region, reorientation: identityReorientation([nx, ny, 1]) }));
}

function pointToSlice(p: PromptPoint, prepared: PreparedVolume): { x: number; y: number } {
  const [x0, y0, w, h] = prepared.region;
  return { x: x0 + ((p.x + 0.5) * w) / ROI - 0.5, y: y0 + ((p.y + 0.5) * h) / ROI - 0.5 };
}

export class Dumper {
  private readonly partial: string;
  private forget: () => void = () => {};
  constructor(
    private readonly dir: string,
    private readonly query: PreparedVolume,
    private readonly band: { alpha: number; beta: number },
  ) {
    this.partial = `${dir}.partial-${process.pid}`;
  }

  async start(): Promise<void> {
    this.forget = temporary(this.partial);
    await rm(this.partial, { recursive: true, force: true });
    await mkdir(this.partial, { recursive: true });
    const marker = { written_by: 'synpo segment --dump', query: this.query.volume.source, grid: 'canonical LPS+ (x → left, y → posterior, z → superior)' };
    await writeFile(join(this.partial, DUMP_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  }

  /**
   * One query slice's files, in `slice-<z>/` (or `<organ>/slice-<z>/` when several organs are
   * dumped): z and supportZ are the files' own slice indices, canonicalZ the slice SynPo processed.
   */
  async slice(z: number, result: SliceResult, s: SupportEncoding, supportZ: number, organ?: string, canonicalZ = z): Promise<void> {
    const r = result as Required<SliceResult>;
    if (!r.featSam || !s.featSam || !s.featDino) throw new Error('the dump needs every intermediate: run segmentVolume with detail: true');
    const dir = join(this.partial, ...(organ ? [organ] : []), `slice-${String(z).padStart(4, '0')}`);
    await mkdir(dir, { recursive: true });
    const Cs = r.featSam.length / CELLS;
    const Cd = r.featDino.length / CELLS;
    const [nx, ny] = this.query.reorientation.dims;
    const files: [string, Uint8Array][] = [
      ['support_feat_sam.npy', encodeNpy(channelLast(s.featSam, Cs), [GRID, GRID, Cs])],
      ['query_feat_sam.npy', encodeNpy(channelLast(r.featSam, Cs), [GRID, GRID, Cs])],
      ['support_feat_dino.npy', encodeNpy(channelLast(s.featDino, Cd), [GRID, GRID, Cd])],
      ['query_feat_dino.npy', encodeNpy(channelLast(r.featDino, Cd), [GRID, GRID, Cd])],
      ['support_mask_grid.npy', encodeNpy(s.maskGrid, [GRID, GRID])],
      ['conf_sam.npy', encodeNpy(Float32Array.from(r.confSam), [GRID, GRID])],
      ['conf_dino.npy', encodeNpy(Float32Array.from(r.confDino), [GRID, GRID])],
      ['synmap.npy', encodeNpy(Float32Array.from(r.synmap), [GRID, GRID])],
      ['synmap_neg.npy', encodeNpy(Float32Array.from(s.synNeg), [s.synNeg.length])],
      ['coarse.npy', encodeNpy(toSlice(r.coarse, this.query), [ny, nx])],
      ['final.npy', encodeNpy(toSlice(r.final, this.query), [ny, nx])],
    ];
    for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
    const summary = {
      slice: z,
      canonical_slice: canonicalZ,
      support_slice: supportZ,
      mu: s.mu,
      sigma: s.sigma,
      alpha: this.band.alpha,
      beta: this.band.beta,
      band: [s.mu - this.band.alpha * s.sigma, s.mu - this.band.beta * s.sigma],
      // Pixel coordinates in the canonical query slice (x = column, y = row), and in the 256×256 ROI.
      positives: r.positives.map((p) => pointToSlice(p, this.query)),
      negatives: r.negatives.map((p) => pointToSlice(p, this.query)),
      positives_roi: r.positives.map(({ x, y }) => ({ x, y })),
      negatives_roi: r.negatives.map(({ x, y }) => ({ x, y })),
      coarse_pixels: r.coarse.reduce((a, v) => a + v, 0),
      final_pixels: r.final.reduce((a, v) => a + v, 0),
      roi_pixels: PIXELS,
    };
    await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  }

  /** Puts the dump in place; an existing DIR was checked (empty, or a dump replaced with --force) before the run. */
  async finish(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    await rename(this.partial, this.dir);
    this.forget();
  }

  async abandon(): Promise<void> {
    await rm(this.partial, { recursive: true, force: true });
    this.forget();
  }
}
