/**
 * A small seeded PRNG (mulberry32): the same seed gives the same k-means++ seeds and the same
 * random subsets on every platform, which Math.random() cannot promise.
 */
export type Rng = () => number;

export function createRng(seed: number, stream = 0): Rng {
  // Mix the stream into the seed so rows of one batch draw independent sequences.
  let state = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
