/** @synpo/io: reading and writing what SynPo consumes and produces. */
export { encodeNpy, decodeNpy, type DecodedNpy } from './npy.ts';
export { decodeNifti, encodeNiftiMask } from './nifti.ts';
export { ImageFileError } from './errors.ts';
export { sliceOf, type Volume } from './volume.ts';
export { decodeImage2D, imageAsVolume, encodePng, encodeMaskPng, type Image2D } from './png.ts';
export { decodeDicomSlice, stackDicomSlices, type DicomSlice } from './dicom.ts';
