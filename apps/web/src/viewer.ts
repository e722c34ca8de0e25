/**
 * The volume viewer: NiiVue shows the query volume in world space (axial, coronal, sagittal and a
 * 3-D render), with the predicted labels (exactly the NIfTI the page downloads) and, when loaded,
 * the query's own labels as overlays. Everything is bundled: nothing is fetched.
 */
import { Niivue, NVImage, SHOW_RENDER } from '@niivue/niivue';

/** An overlay's organs: label value, name and colour. */
export interface OverlayOrgan {
  value: number;
  name: string;
  rgb: [number, number, number];
}

/** The overlays, bottom to top. */
export type Layer = 'truth' | 'prediction' | 'heat' | 'points';
const ORDER: readonly Layer[] = ['truth', 'prediction', 'heat', 'points'];

/** How an overlay is coloured: label values by a table, or a heat map over its values. */
export type LayerStyle = { organs: readonly OverlayOrgan[] } | { heat: { max: number } };

export class VolumeViewer {
  private readonly nv: Niivue;
  private attached: Promise<unknown> | null = null;
  private readonly overlays = new Map<Layer, NVImage>();

  constructor(private readonly canvas: HTMLCanvasElement) {
    this.nv = new Niivue({
      backColor: [0.08, 0.08, 0.1, 1],
      show3Dcrosshair: true,
      dragAndDropEnabled: false,
      isResizeCanvas: false,
      logLevel: 'error',
      loadingText: 'load a NIfTI query volume to see it here',
      multiplanarShowRender: SHOW_RENDER.ALWAYS,
    });
  }

  private async ready(): Promise<void> {
    this.attached ??= this.nv.attachToCanvas(this.canvas);
    await this.attached;
  }

  /** Shows a query volume (NIfTI bytes), dropping every overlay of the previous one. */
  async showVolume(bytes: Uint8Array, name: string): Promise<void> {
    await this.ready();
    const image = await NVImage.loadFromUrl({ url: bytes.slice().buffer, name, colormap: 'gray' });
    await this.clear();
    this.nv.addVolume(image);
    this.nv.setSliceType(this.nv.sliceTypeMultiplanar);
  }

  /** Shows nothing (a query that is not a NIfTI file: the phantom, a PNG slice). */
  async clear(): Promise<void> {
    await this.ready();
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    this.overlays.clear();
  }

  /** Sets (or with null removes) an overlay on the query's grid (NIfTI bytes), kept in layer order. */
  async setOverlay(which: Layer, bytes: Uint8Array | null, style: LayerStyle, opacity: number): Promise<void> {
    await this.ready();
    const old = this.overlays.get(which);
    if (old) this.remove(old);
    this.overlays.delete(which);
    if (!bytes || this.nv.volumes.length === 0) return;
    if ('heat' in style) {
      // Zero stays transparent: the heat map is shifted to start at 1 where it exists.
      const image = await NVImage.loadFromUrl({
        url: bytes.slice().buffer,
        name: `${which}.nii.gz`,
        opacity,
        colormap: 'warm',
        cal_min: 1,
        cal_max: style.heat.max,
      });
      this.place(which, image);
      return;
    }
    const image = await NVImage.loadFromUrl({ url: bytes.slice().buffer, name: `${which}.nii.gz`, opacity });
    // A label colour table: value 0 transparent, each organ's value in its colour.
    const top = Math.max(0, ...style.organs.map((o) => o.value));
    const R = new Array<number>(top + 1).fill(0);
    const G = [...R];
    const B = [...R];
    const A = [...R];
    const labels = new Array<string>(top + 1).fill('');
    for (const o of style.organs) {
      [R[o.value], G[o.value], B[o.value]] = o.rgb;
      A[o.value] = 255;
      labels[o.value] = o.name;
    }
    image.setColormapLabel({ R, G, B, A, I: R.map((_, i) => i), labels });
    this.place(which, image);
  }

  /** Removes a volume NiiVue holds (its removeVolume would drop the last one for any other). */
  private remove(image: NVImage): void {
    if (this.nv.volumes.includes(image)) this.nv.removeVolume(image);
  }

  /** Adds an overlay above the layers below it in ORDER. */
  private place(which: Layer, image: NVImage): void {
    this.overlays.set(which, image);
    for (const layer of ORDER) {
      const v = this.overlays.get(layer);
      if (v) this.remove(v);
    }
    for (const layer of ORDER) {
      const v = this.overlays.get(layer);
      if (v) this.nv.addVolume(v);
    }
  }

  /**
   * Paint mode: the support volume alone, in the axial plane, with NiiVue's pen (organ) and
   * eraser; the drawing starts from `mask` (NIfTI bytes on the support's grid) when given.
   */
  async paint(volume: Uint8Array, mask: Uint8Array | null): Promise<void> {
    await this.showVolume(volume, 'support.nii.gz');
    this.nv.setSliceType(this.nv.sliceTypeAxial);
    if (mask) this.nv.loadDrawing(await NVImage.loadFromUrl({ url: mask.slice().buffer, name: 'support-mask.nii.gz' }));
    else this.nv.createEmptyDrawing();
    this.nv.setDrawingEnabled(true);
    this.setEraser(false);
  }

  /** The pen draws the organ (1); the eraser draws background (0). */
  setEraser(erase: boolean): void {
    this.nv.setPenValue(erase ? 0 : 1, false);
  }

  /** The drawing as NIfTI bytes on the support's own grid and voxel order; paint mode ends. */
  async finishPainting(): Promise<Uint8Array> {
    const bytes = await this.nv.saveImage({ filename: '', isSaveDrawing: true, volumeByIndex: 0 });
    this.nv.setDrawingEnabled(false);
    this.nv.closeDrawing();
    if (!(bytes instanceof Uint8Array)) throw new Error('NiiVue returned no drawing');
    return bytes;
  }

  /** Voxels set in the drawing (0 outside paint mode). */
  get drawnVoxels(): number {
    return this.nv.drawBitmap?.reduce((a, v) => a + (v ? 1 : 0), 0) ?? 0;
  }

  /** Leaves paint mode without keeping the drawing. */
  cancelPainting(): void {
    this.nv.setDrawingEnabled(false);
    this.nv.closeDrawing();
  }

  /** Whether NiiVue holds a volume (for the page's state). */
  get volumes(): number {
    return this.nv.volumes.length;
  }
}
