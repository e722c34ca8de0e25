/** An input or output file SynPo cannot use: the message names the file and what is wrong. */
export class ImageFileError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ImageFileError';
  }
}
