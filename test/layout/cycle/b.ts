/** The other half of the deliberate cycle. */
import { a } from './a.ts';

export const b = () => a;
