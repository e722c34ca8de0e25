/**
 * A segmentation thread (threads.ts): for each task, its share of the slices encoded, then its
 * organs, each posted back; between tasks it waits idle, its code compiled.
 */
import { parentPort } from 'node:worker_threads';
import { ThreadPart, type ThreadMessage, type ToThread } from './threads.ts';

const port = parentPort!;
const post = (m: ThreadMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);
let part: ThreadPart | null = null;

port.on('message', async (m: ToThread) => {
  try {
    if (m.type === 'task') {
      part = new ThreadPart(m.task);
      post({ type: 'encoded', encodings: await part.encode(m.encode) });
      part.prepare(); // its atlases, while the others' encodings come
    } else {
      const result = await part!.segment(m.encodings, (done, total, label) => post({ type: 'progress', done, total, label }));
      part = null; // idle until the next task
      post({ type: 'result', result }, [result.labels.buffer as ArrayBuffer, ...result.organs.map((o) => o.masks.buffer as ArrayBuffer)]);
    }
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    post({ type: 'error', name: e.name, message: e.message });
  }
});
