/** A segmentation thread (threads.ts): one part of a volume's organs, its result posted back. */
import { parentPort } from 'node:worker_threads';
import { runThreadTask, type ThreadMessage, type ThreadTask } from './threads.ts';

const port = parentPort!;
const post = (m: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.once('message', async (task: ThreadTask) => {
  try {
    const result = await runThreadTask(task, (done, total, label) => post({ type: 'progress', done, total, label }));
    post({ type: 'result', result }, [result.labels.buffer as ArrayBuffer, ...result.organs.map((o) => o.masks.buffer as ArrayBuffer)]);
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ type: 'error', name: e.name, message: e.message });
  }
});
