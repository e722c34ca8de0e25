/** @synpo/core: SynPo itself (CMSM, PSM, NRM), its encoders and the evaluation protocol. */
export { DEFAULT_OPTIONS, PAPER_BANDS, PAPER_SYNERGY, type PointSelectionOptions, type RefineOptions, type SynergyOptions, type SynpoOptions } from './options.ts';
