/**
 * What a user installs: every library package packed with `pnpm pack`, the tarballs installed
 * with npm into a scratch project outside the workspace, then used the two ways users use them:
 * plain Node importing @synpo/core and @synpo/gpu and segmenting a phantom slice (CPU references
 * and the GPU path), and an esbuild browser bundle of a page that imports them (it must build,
 * carry the kernels' WGSL, and carry no ONNX Runtime).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = ['packages/gpu', 'packages/io', 'packages/core'];
const requireGpu = Boolean(process.env.CI) || process.env.SYNPO_REQUIRE_GPU === '1';

let project = '';

beforeAll(async () => {
  const tarballs = mkdtempSync(join(tmpdir(), 'synpo-pack-'));
  for (const p of PACKAGES) await run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: join(ROOT, p) });
  project = mkdtempSync(join(tmpdir(), 'synpo-user-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'synpo-user', private: true, type: 'module' }));
  const files = readdirSync(tarballs)
    .filter((f) => f.endsWith('.tgz'))
    .map((f) => join(tarballs, f));
  expect(files).toHaveLength(PACKAGES.length);
  // npm, not pnpm, and no workspace in sight: the tarballs and the registry only.
  await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...files, 'esbuild@0.28.2'], {
    cwd: project,
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    maxBuffer: 16 << 20,
    timeout: 540_000,
  });
}, 600_000);

describe('the packed packages', () => {
  it("carry built JavaScript, types and the kernels, not the repository's paths", () => {
    const gpu = JSON.parse(readFileSync(join(project, 'node_modules/@synpo/gpu/package.json'), 'utf8')) as { exports: Record<string, Record<string, string>> };
    expect(gpu.exports['.']!.default).toBe('./dist/index.js');
    expect(gpu.exports['.']!.types).toBe('./dist/index.d.ts');
    // The kernels are a subpath of their own; their test cases stay out of the package.
    expect(gpu.exports['./kernels']!.default).toBe('./dist/kernels/index.js');
    expect(existsSync(join(project, 'node_modules/@synpo/gpu/dist/kernels/synergy/index.js'))).toBe(true);
    expect(existsSync(join(project, 'node_modules/@synpo/gpu/dist/kernels/synergy/cases.js'))).toBe(false);
    const generated = readFileSync(join(project, 'node_modules/@synpo/gpu/dist/kernels.generated.js'), 'utf8');
    for (const kernel of ['confidence', 'kmeans', 'random-walker', 'refine']) expect(generated).toContain(`"${kernel}"`);
    // The core installs without ONNX Runtime: it is an optional peer, for @synpo/core/onnx only.
    expect(readdirSync(join(project, 'node_modules'))).not.toContain('onnxruntime-node');
  });

  it('plain Node imports @synpo/core and @synpo/gpu and segments a phantom slice on the CPU and the GPU', async () => {
    const script = `
      import { HostTensor, openCompute } from '@synpo/gpu';
      import { KERNELS, synergy } from '@synpo/gpu/kernels';
      import { Synpo, weightFreeBackend, phantomPatient, PIXELS, dice, overlap } from '@synpo/core';
      const patient = phantomPatient(5);
      const z = 14;
      const slice = (a, k) => a.subarray(k * PIXELS, (k + 1) * PIXELS);
      const liver = (k) => Uint8Array.from(slice(patient.labels.data, k), (v) => (v === 1 ? 1 : 0));
      const out = {};
      for (const device of process.argv.slice(2)) {
        const compute = await openCompute({ device, notify: () => {} });
        const synpo = new Synpo(weightFreeBackend(), compute.kernels, { seed: 1 });
        const support = await synpo.prepareSupport({ image: slice(patient.image.data, z), mask: liver(z) });
        const [r] = await synpo.segment(support, patient.image.data.slice((z + 2) * PIXELS, (z + 3) * PIXELS), 1);
        // One kernel on host arrays, through the kernels entry.
        const one = (v) => new HostTensor('f32', [1], Float32Array.of(v));
        const fused = await compute.kernels.run(synergy, { a: one(2), b: one(3) }, { both: 1, sam: 0, dino: 0 });
        out[device] = { path: compute.kernels.path, dice: dice(overlap(r.final, liver(z + 2))), points: r.positives.length, fused: fused.data[0], kernels: Object.keys(KERNELS).length };
        compute.release();
      }
      console.log(JSON.stringify(out));
      process.exit(0);
    `;
    writeFileSync(join(project, 'segment.mjs'), script);
    const devices = ['cpu', 'gpu'];
    const { stdout } = await run(process.execPath, ['segment.mjs', ...devices], { cwd: project, timeout: 300_000 }).catch((error: { stderr?: string }) => {
      // Without an adapter (and outside CI), the GPU half is not run; say so rather than pass.
      if (!requireGpu && /no WebGPU adapter/.test(error.stderr ?? '')) return run(process.execPath, ['segment.mjs', 'cpu'], { cwd: project });
      throw error;
    });
    const result = JSON.parse(stdout) as Record<string, { path: string; dice: number; points: number; fused: number; kernels: number }>;
    expect(result.cpu!.path).toBe('cpu');
    expect(result.cpu!.fused).toBe(6);
    expect(result.cpu!.kernels).toBeGreaterThan(20);
    expect(result.cpu!.dice).toBeGreaterThan(0.6);
    expect(result.cpu!.points).toBe(4);
    if (requireGpu) {
      expect(result.gpu!.path).toBe('gpu');
      expect(Math.abs(result.gpu!.dice - result.cpu!.dice)).toBeLessThan(0.03);
      expect(result.gpu!.fused).toBe(6);
    }
  }, 300_000);

  it('an esbuild browser bundle of a page importing them builds, with the WGSL and without ONNX Runtime', async () => {
    writeFileSync(
      join(project, 'page.js'),
      `
      import { openCompute } from '@synpo/gpu';
      import { Synpo, weightFreeBackend } from '@synpo/core';
      const compute = await openCompute({ device: 'auto' });
      globalThis.synpo = new Synpo(weightFreeBackend(), compute.kernels);
    `,
    );
    await run(
      join(project, 'node_modules/.bin/esbuild'),
      ['page.js', '--bundle', '--platform=browser', '--format=esm', '--outfile=bundle.js', '--log-level=error'],
      { cwd: project },
    );
    const bundle = readFileSync(join(project, 'bundle.js'), 'utf8');
    expect(bundle).toContain('fn solve('); // kernels/kmeans.wgsl
    expect(bundle).toContain('fn best_component('); // kernels/refine.wgsl
    expect(bundle).toContain('navigator.gpu'); // the browser half of the device seam
    expect(bundle).not.toContain('onnxruntime');
    expect(bundle).not.toMatch(/from\s*["']webgpu["']|require\(["']webgpu["']\)/);
  }, 120_000);
});
