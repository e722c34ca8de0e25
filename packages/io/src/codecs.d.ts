// The cornerstonejs WebAssembly codecs ship Emscripten module factories without type declarations.
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: () => Promise<Record<string, unknown>>;
  export default factory;
}
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: () => Promise<Record<string, unknown>>;
  export default factory;
}
// jpeg-lossless-decoder-js names a declaration file it does not ship.
declare module 'jpeg-lossless-decoder-js' {
  export class Decoder {
    decompress(buffer: ArrayBuffer, offset?: number, length?: number): ArrayBuffer;
  }
}
