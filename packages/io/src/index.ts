/** @synpo/io: reading and writing what SynPo consumes and produces. */
export { encodeNpy, decodeNpy, type DecodedNpy } from './npy.ts';
export { decodeNifti, encodeNiftiMask, niftiSliceHeader } from './nifti.ts';
export { crc32, gunzipChecked } from './gzip.ts';
export { ImageFileError } from './errors.ts';
export { nonFiniteVoxel, sliceOf, sliceVolume, type Volume, type VoxelAt } from './volume.ts';
export { decodeImage2D, imageAsVolume, encodePng, encodeMaskPng, type Image2D } from './png.ts';
export {
  decodeDicomSlice,
  parseDicomSlice,
  intensities,
  groupSeries,
  isDicomSeriesInfo,
  pickSeries,
  stackDicomSlices,
  summariseSeries,
  type DicomSeriesInfo,
  type DicomSlice,
  type SeriesSummary,
  type StoredPixels,
} from './dicom.ts';
export {
  canonicalAffine,
  canonicalVolume,
  fromCanonical,
  identityReorientation,
  reorientation,
  toCanonical,
  worldOf,
  CANONICAL_NAME,
  type Reorientation,
} from './orientation.ts';
export { decodeNrrd, encodeNrrdMask } from './nrrd.ts';
