/** @synpo/io: reading and writing what SynPo consumes and produces. */
export { encodeNpy, decodeNpy, type DecodedNpy } from './npy.ts';
