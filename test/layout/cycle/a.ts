/** Half of a deliberate cycle: the imports test must find it. */
import { b } from './b.ts';

export const a = () => b;
