/**
 * The synthetic ONNX graphs (`@synpo/onnx-fixtures`: tiny models with the DINOv2 / SAM 2.1
 * contracts) are a development dependency of the CLI, loaded only where they are used: `synpo
 * models synthetic`, and the ONNX bench rows when no --models directory is given.
 */
import { CliError } from './errors.ts';

export type OnnxFixtures = typeof import('@synpo/onnx-fixtures');

/** The fixtures package, or null when it is not installed. */
export async function onnxFixtures(): Promise<OnnxFixtures | null> {
  try {
    return await import('@synpo/onnx-fixtures');
  } catch (error) {
    // Only the package itself missing means "not installed"; a broken install is an error.
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ERR_MODULE_NOT_FOUND' && String(message).includes("'@synpo/onnx-fixtures'")) return null;
    throw error;
  }
}

/** The fixtures package, or a clear error saying what to install. */
export async function requireOnnxFixtures(what: string): Promise<OnnxFixtures> {
  const fixtures = await onnxFixtures();
  if (!fixtures) throw new CliError(`${what} needs the synthetic ONNX graphs of @synpo/onnx-fixtures, which is not installed: install it beside @synpo/cli`);
  return fixtures;
}
