#!/usr/bin/env node
// The synpo command: the compiled CLI in ../dist (built by `pnpm install` or `pnpm build` in the
// repository, shipped built in the package).
let cli;
try {
  cli = await import('../dist/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('/dist/main.js')) throw error;
  process.stderr.write('synpo: the CLI is not built (apps/cli/dist is missing); run `pnpm build` in the repository\n');
  process.exit(1);
}
// Dawn keeps Node alive while its instance is referenced: end the process deliberately.
process.exit(await cli.main(process.argv));
