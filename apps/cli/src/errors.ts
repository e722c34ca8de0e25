/** Exit codes the CLI promises (documented in the README). */
export const EXIT = {
  ok: 0,
  /** Something failed while running (bad data, a GPU error). */
  failure: 1,
  /** The command line itself was wrong. */
  usage: 2,
  /** `--device gpu` and there is no WebGPU adapter. */
  noGpu: 3,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
