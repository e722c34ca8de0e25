/** Where the real data sets live by default: shared/data beside the repository. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function defaultDataDir(layout: string): string | null {
  const candidates = [
    process.env.SYNPO_DATA ? `${process.env.SYNPO_DATA}/${layout}` : '',
    fileURLToPath(new URL(`../../../../shared/data/${layout}`, import.meta.url)),
  ].filter(Boolean);
  return candidates.find((dir) => existsSync(dir)) ?? null;
}
