/**
 * Working memory of the CPU references, reused between calls. A whole volume calls the same
 * references hundreds of times; fresh arrays each time made the collector's work a tenth of the
 * CPU path's time (its helper threads share the cores the path runs on). Only working memory
 * comes from here, never a result: the arrays are overwritten by the next call. They are not
 * cleared either: a caller writes every element it later reads. One set per module instance, so
 * per thread; a reference must not call another one that takes the same slot while it holds it.
 */
type ScratchArray = Float64Array | Int32Array;

/**
 * Arrays longer than this are not kept (a rare large batch should not hold its memory for good);
 * the largest batches of a volume keep about 50 MB a thread.
 */
const KEEP_ELEMENTS = 1 << 22;

const slots = new Map<string, ScratchArray>();

/** `n` elements of slot `slot` (uninitialised: whatever the last call left). */
export function scratch<A extends ScratchArray>(slot: string, Type: { new (n: number): A }, n: number): A {
  const held = slots.get(slot);
  if (held instanceof Type && held.length >= n) return held.subarray(0, n) as A;
  const fresh = new Type(n);
  if (n <= KEEP_ELEMENTS) slots.set(slot, fresh);
  return fresh;
}
