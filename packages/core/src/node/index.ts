/** @synpo/core/node: what runs only under Node (worker threads). */
export { dealSlices, segmentOrgansOnThreads, warmThreads, type ThreadedOrgansRequest } from './threads.ts';
