/**
 * The seeded random generator every random choice of the library draws from.
 * @module utils
 */
export { Rng, deriveSeed } from './random.js';
