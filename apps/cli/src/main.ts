/** `synpo`: the command-line entry. Each command lives in src/commands/. */
import { Command, CommanderError } from 'commander';
import { batchCommand } from './commands/batch.ts';
import { benchCommand } from './commands/bench.ts';
import { demoCommand } from './commands/demo.ts';
import { kernelDemoCommand } from './commands/kernel-demo.ts';
import { evalCommand } from './commands/eval.ts';
import { queueCommand } from './commands/queue.ts';
import { segmentCommand } from './commands/segment.ts';
import { modelsCommand } from './commands/models.ts';
import { infoCommand } from './commands/info.ts';
import { CliError, EXIT } from './errors.ts';
import { cleanUpOnSignals } from './files.ts';
import type { Runner } from './options.ts';

export async function main(argv: string[]): Promise<number> {
  const program = new Command('synpo')
    .description('SynPo: training-free few-shot segmentation of medical images, on WebGPU kernels')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run synpo --help for usage)');
  // Ctrl-C or a kill leaves no partial output behind (temporary files and dump folders are removed).
  cleanUpOnSignals();
  let code: number = EXIT.ok;
  const run: Runner =
    (action) =>
    async (...args) => {
      code = await action(...args);
    };
  infoCommand(program, run);
  benchCommand(program, run);
  demoCommand(program, run);
  kernelDemoCommand(program, run);
  segmentCommand(program, run);
  evalCommand(program, run);
  modelsCommand(program, run);
  batchCommand(program, run);
  queueCommand(program, run);
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      process.stderr.write(`synpo: ${error.message}\n`);
      return error.exitCode;
    }
    // The library's own errors name their source ("synpo: the support mask is empty"); once is enough.
    const message = (error instanceof Error ? error.message : String(error)).replace(/^synpo: /, '');
    process.stderr.write(`synpo: ${message}\n`);
    if (process.env.SYNPO_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return EXIT.failure;
  }
  return code;
}
