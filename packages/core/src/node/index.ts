/** @synpo/core/node: what runs only under Node (worker threads). */
export { segmentOrgansOnThreads, warmThreads, type ThreadedOrgansRequest } from './threads.ts';
