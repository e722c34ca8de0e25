/**
 * The demo site end to end in Debian's Chromium (headless, driven by playwright-core): build it,
 * serve it on 127.0.0.1, load the phantom, segment a slice on the GPU path (SwiftShader's WebGPU
 * adapter with --enable-unsafe-webgpu) and on the CPU fallback (WebGPU off), check Dice, the path
 * used, that no request left 127.0.0.1, and that a long run can be cancelled; load real CHAOS
 * volumes through the file inputs, segment every organ in one run and compare the download with
 * the CLI's output and NiiVue's rendering with what it should show; save screenshots.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelDir } from '../../packages/core/test/fixtures/model-dir.ts';
import { decodeNifti } from '@synpo/io';
import { decode as decodePng } from 'fast-png';
import { DATA, synpo } from '../cli/run.ts';
import { itWithData } from '../support/data.ts';

const WEB = fileURLToPath(new URL('../../apps/web/', import.meta.url));
const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const CHROMIUM = process.env.SYNPO_CHROMIUM ?? '/usr/bin/chromium';
const requireBrowser = Boolean(process.env.CI);
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

let server: Server;
let origin = '';

beforeAll(async () => {
  execFileSync(process.execPath, [join(WEB, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: WEB, stdio: 'inherit' });
  const root = join(WEB, 'dist');
  server = createServer((req, res) => {
    const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!)).replace(/^(\.\.[/\\])+/, '');
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function open(webgpu: boolean): Promise<{ context: BrowserContext; page: Page; requests: string[] }> {
  const args = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'];
  if (webgpu) args.push('--enable-unsafe-webgpu');
  // NiiVue draws with WebGL2: SwiftShader's, in a headless browser with no GPU.
  args.push('--enable-unsafe-swiftshader');
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'synpo-chromium-')), { executablePath: CHROMIUM, headless: true, args });
  const page = context.pages()[0] ?? (await context.newPage());
  // A click waits for the page's main thread; on a loaded 2-core machine NiiVue's WebGL on
  // SwiftShader can hold it for tens of seconds. The tests' own limits stay the measure.
  page.setDefaultTimeout(120_000);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => requests.push(`pageerror: ${e.message}`));
  await page.goto(`${origin}/index.html`);
  return { context, page, requests };
}

type Synpo = { path: string; running: boolean; error: string; slices: number; dice(): number | null };

async function segmentMiddleSlice(page: Page, before: () => Promise<void> = async () => {}): Promise<Synpo & { diceValue: number | null }> {
  await page.click('#load-phantom');
  await page.waitForFunction(() => document.querySelector('#status')?.textContent?.startsWith('loaded'), undefined, { timeout: 120_000 });
  await before();
  await page.click('#run-slice');
  await page.waitForFunction(
    () => {
      const s = (window as unknown as { synpo: Synpo }).synpo;
      return (s.slices > 0 && !s.running) || s.error !== '';
    },
    undefined,
    { timeout: 240_000, polling: 500 },
  );
  return page.evaluate(() => {
    const s = (window as unknown as { synpo: Synpo }).synpo;
    return { path: s.path, running: s.running, error: s.error, slices: s.slices, dice: () => null, diceValue: s.dice() };
  }) as Promise<Synpo & { diceValue: number | null }>;
}

const hasBrowser = existsSync(CHROMIUM);

describe('the demo site', () => {
  it.skipIf(!hasBrowser && !requireBrowser)(
    'segments the phantom on the GPU path, offline',
    async () => {
      const { context, page, requests } = await open(true);
      try {
        // SwiftShader is a software adapter: 'auto' would run the CPU references on it.
        await page.selectOption('#device-choice', 'gpu');
        const result = await segmentMiddleSlice(page);
        expect(result.error).toBe('');
        expect(result.path).toBe('gpu');
        expect(await page.textContent('#device')).toMatch(/^WebGPU: /);
        expect(result.diceValue).toBeGreaterThan(0.6);
        await page.screenshot({ path: join(ARTIFACTS, 'web-gpu.png'), fullPage: true });
        // The mask downloads as a NIfTI volume on the query's grid.
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
        const saved = join(mkdtempSync(join(tmpdir(), 'synpo-download-')), 'mask.nii.gz');
        await download.saveAs(saved);
        const mask = decodeNifti(new Uint8Array(readFileSync(saved)), saved);
        expect(mask.dims).toEqual([256, 256, 20]);
        expect(mask.data.some((v) => v === 1)).toBe(true);
        expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
      } finally {
        await context.close();
      }
    },
    400_000,
  );

  it.skipIf(!hasBrowser && !requireBrowser)(
    'falls back to the CPU references with a visible notice when WebGPU is off',
    async () => {
      const { context, page, requests } = await open(false);
      try {
        expect(await page.textContent('#device')).toMatch(/no WebGPU adapter/);
        const result = await segmentMiddleSlice(page);
        expect(result.error).toBe('');
        expect(result.path).toBe('cpu');
        expect(await page.textContent('#device')).toMatch(/^CPU references/);
        expect(result.diceValue).toBeGreaterThan(0.6);
        await page.screenshot({ path: join(ARTIFACTS, 'web-cpu.png'), fullPage: true });
        // A whole-volume run shows progress and can be cancelled.
        await page.click('#run-volume');
        await page.waitForFunction(() => (document.querySelector('#status')?.textContent ?? '').startsWith('segment'), undefined, { timeout: 30_000 });
        await page.click('#cancel');
        expect(await page.textContent('#status')).toBe('cancelled');
        expect(await page.isEnabled('#run-volume')).toBe(true);
        expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
      } finally {
        await context.close();
      }
    },
    400_000,
  );

  itWithData.skipIf(!hasBrowser && !requireBrowser)(
    ['chaos-t2'],
    'segments every organ of a real CHAOS volume in one run, as the CLI writes it',
    async () => {
      const chaos = join(DATA, 'chaos-t2');
      const { context, page, requests } = await open(true);
      try {
        // Support image_8 with its labels, query image_2 with its labels (for Dice), through the file inputs.
        await page.setInputFiles('#support-image', join(chaos, 'image_8.nii.gz'));
        await page.setInputFiles('#support-labels', join(chaos, 'label_8.nii.gz'));
        await page.setInputFiles('#query-image', join(chaos, 'image_2.nii.gz'));
        await page.setInputFiles('#query-labels', join(chaos, 'label_2.nii.gz'));
        await page.waitForFunction(
          () => (document.querySelector('#status')?.textContent ?? '').startsWith('loaded: support 256×256×34, query 256×256×31'),
          undefined,
          { timeout: 120_000 },
        );
        // The labels are recognised as CHAOS-T2's and the organs named.
        const names = await page.evaluate(() => (window as unknown as { synpo: { organNames(): string[] } }).synpo.organNames());
        expect(names).toEqual(['liver', 'right-kidney', 'left-kidney', 'spleen']);
        await page.click('#run-volume');
        await page.waitForFunction(
          () => {
            const s = (window as unknown as { synpo: { error: string; volume(): unknown } }).synpo;
            return s.volume() !== null || s.error !== '';
          },
          undefined,
          { timeout: 300_000, polling: 500 },
        );
        type Report = { organs: { name: string; range: [number, number]; diceRange: number; diceVolume: number }[]; range: [number, number]; seconds: number };
        const { error, volume, workers } = await page.evaluate(() => {
          const s = (window as unknown as { synpo: { error: string; volume(): Report; workers: number } }).synpo;
          return { error: s.error, volume: s.volume(), workers: s.workers };
        });
        // On the CPU references the organs are spread over the cores (the machine's, up to 4 organs).
        expect(workers).toBe(Math.min(4, await page.evaluate(() => navigator.hardwareConcurrency)));
        expect(error).toBe('');
        // SwiftShader is a software adapter: the page ran the CPU references, as --device auto does, and says so.
        expect(await page.textContent('#device')).toMatch(/^CPU references \(.*software.*the "GPU" device choice to use it/);
        expect(volume.organs.map((o) => o.name)).toEqual(['liver', 'right-kidney', 'left-kidney', 'spleen']);
        for (const o of volume.organs) {
          expect(o.diceRange).toBeGreaterThan(0.25);
          expect(o.diceVolume).toBeGreaterThan(0.25);
          expect(o.diceVolume).toBeLessThanOrEqual(o.diceRange + 1e-9);
        }
        expect(await page.textContent('#volume-summary')).toMatch(/liver \(slices \d+–\d+: Dice [\d.]+ over those slices, [\d.]+ over the whole volume\)/);
        // NiiVue shows the query with two overlays (the truth, the prediction) and drew them: the
        // WebGL canvas holds many grey levels and the organs' colours.
        await page.waitForFunction(() => (window as unknown as { synpo: { viewerVolumes: number } }).synpo.viewerVolumes === 3, undefined, { timeout: 60_000 });
        await page.waitForTimeout(1000);
        const shot = decodePng(await page.locator('#niivue').screenshot({ path: join(ARTIFACTS, 'web-niivue.png') }));
        const channels = shot.channels;
        const greys = new Set<number>();
        let red = 0;
        let purple = 0;
        for (let i = 0; i < shot.width * shot.height; i++) {
          const [r, g, b] = [shot.data[i * channels]!, shot.data[i * channels + 1]!, shot.data[i * channels + 2]!];
          if (Math.abs(r - g) < 4 && Math.abs(g - b) < 4) greys.add(r);
          if (r > 150 && g < 110 && b < 110) red++;
          if (r > 150 && b > 150 && g < 120) purple++;
        }
        expect(greys.size).toBeGreaterThan(64);
        expect(red).toBeGreaterThan(2000);
        expect(purple).toBeGreaterThan(500);
        await page.screenshot({ path: join(ARTIFACTS, 'web-chaos.png'), fullPage: true });
        // The downloaded NIfTI is what the CLI writes for the same case and seed, voxel for voxel.
        const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
        const dir = mkdtempSync(join(tmpdir(), 'synpo-chaos-'));
        const saved = join(dir, 'page.nii.gz');
        await download.saveAs(saved);
        const cliOut = join(dir, 'cli.nii.gz');
        const cli = await synpo(
          'segment',
          '--support-image',
          join(chaos, 'image_8.nii.gz'),
          '--support-label',
          join(chaos, 'label_8.nii.gz'),
          '--organs',
          'all',
          '--query',
          join(chaos, 'image_2.nii.gz'),
          '--out',
          cliOut,
          '--device',
          'cpu',
          '--json',
          '--no-progress',
        );
        expect(cli.code, cli.stderr).toBe(0);
        const mine = decodeNifti(new Uint8Array(readFileSync(saved)), saved);
        const theirs = decodeNifti(new Uint8Array(readFileSync(cliOut)), cliOut);
        expect(mine.dims).toEqual(theirs.dims);
        expect(mine.data.length).toBe(theirs.data.length);
        let differing = 0;
        for (let i = 0; i < mine.data.length; i++) if (mine.data[i] !== theirs.data[i]) differing++;
        expect(differing).toBe(0);
        expect(new Set(mine.data)).toEqual(new Set([0, 1, 2, 3, 4]));
        // Slices outside the organs' range (the file's own indices) are left empty.
        const summary = JSON.parse(cli.stdout) as { range: [number, number]; seconds: number };
        const plane = mine.dims[0]! * mine.dims[1]!;
        for (let z = 0; z < mine.dims[2]!; z++) {
          if (z >= summary.range[0] && z <= summary.range[1]) continue;
          expect(
            mine.data.subarray(z * plane, (z + 1) * plane).some((v) => v !== 0),
            `slice ${z}`,
          ).toBe(false);
        }
        expect(summary.range[0] > 0 || summary.range[1] < mine.dims[2]! - 1).toBe(true);
        // A figure for the README, not an assertion: the page's volume time beside the CLI's.
        console.log(
          `demo site, CHAOS image_2 (4 organs): page ${volume.seconds.toFixed(1)} s (CPU references, ${workers} worker(s)) vs CLI ${summary.seconds.toFixed(1)} s (--device cpu): ${(volume.seconds / summary.seconds).toFixed(2)}×`,
        );
        // The support mask painted with NiiVue's pen on the support volume (starting from the
        // liver's mask) comes back on the support's grid and is the organ of the next run.
        type Paint = { painting: boolean; supportVoxels: number; error: string };
        const paintState = () =>
          page.evaluate(() => {
            const s = (window as unknown as { synpo: Paint }).synpo;
            return { painting: s.painting, supportVoxels: s.supportVoxels, error: s.error };
          });
        const before = (await paintState()).supportVoxels;
        await page.click('#paint-viewer');
        await page.waitForFunction(() => (window as unknown as { synpo: Paint }).synpo.painting, undefined, { timeout: 60_000 });
        await page.locator('#niivue').scrollIntoViewIfNeeded();
        const box = (await page.locator('#niivue').boundingBox())!;
        const drawn = () => page.evaluate(() => (window as unknown as { synpo: { drawnVoxels: number } }).synpo.drawnVoxels);
        const drawnBefore = await drawn();
        expect(drawnBefore).toBeGreaterThan(0);
        // A stroke across the top of the axial view (the middle slice), where the liver is not.
        await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.12);
        await page.mouse.down();
        for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width * (0.4 + 0.02 * i), box.y + box.height * 0.12, { steps: 2 });
        await page.mouse.up();
        expect(await drawn()).toBeGreaterThan(drawnBefore);
        await page.screenshot({ path: join(ARTIFACTS, 'web-paint.png'), fullPage: true });
        await page.click('#use-painting');
        await page.waitForFunction(() => !(window as unknown as { synpo: Paint }).synpo.painting, undefined, { timeout: 180_000 });
        const after = await paintState();
        expect(after.error).toBe('');
        expect(after.supportVoxels).toBeGreaterThan(before);
        await page.click('#run-volume', { timeout: 120_000 });
        await page.waitForFunction(
          () => {
            const s = (window as unknown as { synpo: { error: string; volume(): { organs: { name: string }[] } | null } }).synpo;
            return s.volume()?.organs[0]?.name === 'painted organ' || s.error !== '';
          },
          undefined,
          { timeout: 300_000, polling: 500 },
        );
        expect((await paintState()).error).toBe('');
        expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
      } finally {
        await context.close();
      }
    },
    900_000,
  );

  it.skipIf(!hasBrowser && !requireBrowser)(
    'runs the ONNX backend with picked model files through onnxruntime-web',
    async () => {
      const dir = writeModelDir();
      const { context, page, requests } = await open(true);
      try {
        const result = await segmentMiddleSlice(page, async () => {
          await page.selectOption('#device-choice', 'gpu');
          await page.selectOption('#backend', 'onnx');
          await page.setInputFiles(
            '#model-files',
            ['manifest.json', 'dinov2.onnx', 'sam2_encoder.onnx', 'sam2_decoder.onnx'].map((f) => join(dir, f)),
          );
        });
        expect(result.error, (await page.textContent('#status')) ?? '').toBe('');
        expect(result.slices).toBe(1);
        // The synthetic decoder draws a disc of radius 30 (on SAM's 256² grid) around the positives.
        expect(result.diceValue).toBeGreaterThan(0.1);
        // onnxruntime-web ran on the page's own GPUDevice, and the encoders' outputs fed the kernels
        // there: what went up is the slices and SAM's masks, not the feature grids (272 channels of
        // 64×64 float32 a slice, 4352 KiB, for the support and the query).
        const traffic = (await page.textContent('#transfers')) ?? '';
        expect(traffic).toMatch(/ONNX models on webgpu\/webgpu\/webgpu, outputs on the kernels' GPU device/);
        const uploaded = Number(/to the GPU (\d+) KiB/.exec(traffic)?.[1]);
        expect(uploaded).toBeGreaterThan(0);
        expect(uploaded).toBeLessThan(4352);
        await page.screenshot({ path: join(ARTIFACTS, 'web-onnx.png'), fullPage: true });
        expect(requests.filter((u) => !u.startsWith(origin))).toEqual([]);
      } finally {
        await context.close();
      }
    },
    400_000,
  );
});
