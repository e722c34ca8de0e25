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

export class VolumeViewer {
  private readonly nv: Niivue;
  private attached: Promise<unknown> | null = null;
  private readonly overlays = new Map<'prediction' | 'truth', NVImage>();

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
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    this.overlays.clear();
    this.nv.addVolume(image);
    this.nv.setSliceType(this.nv.sliceTypeMultiplanar);
  }

  /** Shows nothing (a query that is not a NIfTI file: the phantom, a PNG slice). */
  async clear(): Promise<void> {
    await this.ready();
    for (const v of [...this.nv.volumes]) this.nv.removeVolume(v);
    this.overlays.clear();
  }

  /** Sets (or with null removes) an overlay of label values (NIfTI bytes on the query's grid). */
  async setOverlay(which: 'prediction' | 'truth', bytes: Uint8Array | null, organs: readonly OverlayOrgan[], opacity: number): Promise<void> {
    await this.ready();
    const old = this.overlays.get(which);
    if (old) this.nv.removeVolume(old);
    this.overlays.delete(which);
    if (!bytes || this.nv.volumes.length === 0) return;
    const image = await NVImage.loadFromUrl({ url: bytes.slice().buffer, name: `${which}.nii.gz`, opacity });
    // A label colour table: value 0 transparent, each organ's value in its colour.
    const top = Math.max(0, ...organs.map((o) => o.value));
    const R = new Array<number>(top + 1).fill(0);
    const G = [...R];
    const B = [...R];
    const A = [...R];
    const labels = new Array<string>(top + 1).fill('');
    for (const o of organs) {
      [R[o.value], G[o.value], B[o.value]] = o.rgb;
      A[o.value] = 255;
      labels[o.value] = o.name;
    }
    image.setColormapLabel({ R, G, B, A, I: R.map((_, i) => i), labels });
    this.nv.addVolume(image);
    this.overlays.set(which, image);
  }

  /** Whether NiiVue holds a volume (for the page's state). */
  get volumes(): number {
    return this.nv.volumes.length;
  }
}
