/** @synpo/core/node: what runs only under Node (worker threads). */
export { defaultThreads, segmentOrgansOnThreads, warmThreads, type ThreadedOrgansRequest } from './threads.ts';
