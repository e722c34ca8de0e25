/**
 * @synpo/core/onnx/node: a model directory on disk as a `ModelSource` (Node only). Graphs open
 * from their paths (ONNX Runtime reads them and their external data itself, whatever the size)
 * and are hashed as streams, never read whole.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ModelSource } from './models.ts';

const fileError = (error: unknown) => {
  const code = (error as NodeJS.ErrnoException).code;
  return new Error(code === 'ENOENT' ? 'no such file' : (code ?? (error as Error).message));
};

export function directorySource(dir: string): ModelSource {
  return {
    where: dir,
    read: async (name) => {
      try {
        return new Uint8Array(await readFile(join(dir, name)));
      } catch (error) {
        throw fileError(error);
      }
    },
    sha256: async (bytes) => createHash('sha256').update(bytes).digest('hex'),
    path: (name) => resolve(dir, name),
    exists: async (name) => (await stat(join(dir, name)).catch(() => null))?.isFile() ?? false,
    hashFile: (name) =>
      new Promise((done, fail) => {
        const hash = createHash('sha256');
        createReadStream(join(dir, name))
          .on('error', (error) => fail(fileError(error)))
          .on('data', (chunk) => hash.update(chunk))
          .on('end', () => done(hash.digest('hex')));
      }),
  };
}
