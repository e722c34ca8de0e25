/** `synpo models check DIR` and `synpo models export`: the ONNX backend's model directory. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { phantomPatient, PIXELS } from '@synpo/core';
import { loadModels, onnxBackend, type ExecutionProvider } from '@synpo/core/onnx';
import { writeFileAtomic } from '../files.ts';
import { directorySource } from '@synpo/core/onnx/node';
import { formatCheck } from '../backend.ts';
import { requireOnnxFixtures } from '../fixtures.ts';
import { CliError, EXIT } from '../errors.ts';
import type { Runner } from '../options.ts';

const EXPORT_SCRIPT = fileURLToPath(new URL('../../../../tools/export/export_models.py', import.meta.url));

export function modelsCommand(program: Command, run: Runner): void {
  const models = program.command('models').description("the ONNX backend's model directory: check one, or export one from DINOv2 and SAM 2.1 checkpoints");
  models
    .command('check <dir>')
    .description('load each model of DIR, check names, shapes and dtypes against manifest.json, and run each once on a dummy input')
    .addOption(new Option('--ep <provider>', 'ONNX Runtime execution provider').choices(['cpu', 'webgpu', 'cuda']).default('cpu'))
    .option('--json', 'print the report as JSON')
    .action(
      run(async (dir: string, opts: { ep: ExecutionProvider; json?: boolean }) => {
        const { models: loaded, report } = await loadModels(directorySource(dir), opts.ep, (m) => process.stderr.write(`${m}\n`));
        let dummy = '';
        if (loaded) {
          // One dummy run of every graph: a phantom slice through both encoders and the decoder.
          try {
            const backend = onnxBackend(loaded);
            const image = phantomPatient(0, { slices: 1 }).image.data.subarray(0, PIXELS);
            await backend.dino.encodeSlices(image, 1);
            await backend.sam.encodeSlices(image, 1);
            const [mask] = await backend.decoder.decodeRequests([
              {
                image,
                points: [
                  { x: 128, y: 128, label: 1 },
                  { x: 20, y: 20, label: 0 },
                ],
              },
            ]);
            dummy = `dummy run: encoders and decoder ran; the decoder marked ${mask!.reduce((a, v) => a + v, 0)} of ${PIXELS} pixels`;
          } catch (error) {
            report.ok = false;
            report.problems.push(`dummy run failed: ${(error as Error).message}`);
          }
        }
        process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatCheck(report)}${dummy ? `\n${dummy}` : ''}\n`);
        return report.ok ? EXIT.ok : EXIT.failure;
      }),
    );
  models
    .command('synthetic <dir>')
    .description('write a synthetic model directory: tiny graphs with the DINOv2 / SAM 2.1 contracts (for trying the ONNX path; not trained models)')
    .option('--float16', 'float16 inputs and outputs, as an fp16 export has')
    .option('--external-data', 'weights in external-data files next to the graphs, as exports over 2 GB have')
    .action(
      run(async (dir: string, opts: { float16?: boolean; externalData?: boolean }) => {
        await mkdir(dir, { recursive: true });
        const variant = { ...(opts.float16 && { float16: true }), ...(opts.externalData && { externalData: true }) };
        const { syntheticModelDir } = await requireOnnxFixtures('models synthetic');
        for (const [name, bytes] of Object.entries(
          syntheticModelDir((b) => createHash('sha256').update(b).digest('hex'), undefined, undefined, variant).files,
        )) {
          await writeFileAtomic(join(dir, name), bytes);
        }
        process.stdout.write(`wrote a synthetic model directory to ${dir} (graphs with the real contracts, not trained models)\n`);
        return EXIT.ok;
      }),
    );
  models
    .command('export <dir>')
    .description('write a model directory from DINOv2 and SAM 2.1 checkpoints (needs Python with torch, transformers and sam2; see tools/export/README.md)')
    .option('--dino <name>', 'DINOv2 model: a Hugging Face id or local folder', 'facebook/dinov2-giant')
    .option('--sinder <file>', 'optional Sinder-repaired DINOv2 weights (.pth) loaded over the model')
    .option('--sam-config <file>', 'SAM 2.1 model config (from the sam2 package)', 'configs/sam2.1/sam2.1_hiera_l.yaml')
    .option('--sam-checkpoint <file>', 'SAM 2.1 checkpoint (.pt)', 'checkpoints/sam2.1_hiera_large.pt')
    .option('--dino-size <px>', 'DINOv2 input side (896 → a 64×64 grid at patch 14)', '896')
    .option('--python <exe>', 'Python interpreter', 'python3')
    .action(
      run(async (dir: string, opts: { dino: string; sinder?: string; samConfig: string; samCheckpoint: string; dinoSize: string; python: string }) => {
        if (!existsSync(EXPORT_SCRIPT)) throw new CliError(`the export script ${EXPORT_SCRIPT} is missing from this installation`);
        const probe = spawnSync(opts.python, ['-c', 'import torch, transformers, sam2, onnx'], { encoding: 'utf8' });
        if (probe.status !== 0) {
          throw new CliError(
            [
              `cannot export: ${opts.python} lacks torch, transformers, sam2 or onnx (${(probe.stderr || probe.error?.message || '').trim().split('\n').at(-1)}).`,
              'On a machine with internet:  pip install torch transformers onnx "git+https://github.com/facebookresearch/sam2"',
              "then download a SAM 2.1 checkpoint (the sam2 repository's checkpoints/download_ckpts.sh) and run this command again.",
            ].join('\n'),
            EXIT.failure,
          );
        }
        const args = [
          EXPORT_SCRIPT,
          '--out',
          dir,
          '--dino',
          opts.dino,
          '--dino-size',
          opts.dinoSize,
          '--sam-config',
          opts.samConfig,
          '--sam-checkpoint',
          opts.samCheckpoint,
          ...(opts.sinder ? ['--sinder', opts.sinder] : []),
        ];
        const r = spawnSync(opts.python, args, { stdio: 'inherit' });
        if (r.status !== 0) throw new CliError(`the export script failed (exit ${r.status}); see its output above`);
        process.stdout.write(`wrote ${dir}; check it with: synpo models check ${dir}\n`);
        return EXIT.ok;
      }),
    );
}
