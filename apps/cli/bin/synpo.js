#!/usr/bin/env node
// The synpo command. Runs the TypeScript sources directly (through tsx), so the CLI works from a
// fresh checkout without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
// Dawn keeps Node alive while its instance is referenced: end the process deliberately.
process.exit(await main(process.argv));
