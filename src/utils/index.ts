export { Rng, deriveSeed } from './random.js';
