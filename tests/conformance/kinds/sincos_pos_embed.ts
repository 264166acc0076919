/**
 * `sincos_pos_embed`: MAE's `get_2d_sincos_pos_embed(embed_dim, grid_size,
 * cls_token)` via the library's `sincosPosEmbed2d`.
 */
import { sincosPosEmbed2d } from '../../../src/layers/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const { embed_dim: d, grid_size: g, cls_token: cls } = c.config;
  if (typeof d !== 'number') throw new Error(`sincos_pos_embed: embed_dim must be a number, got ${JSON.stringify(d)}`);
  const grid = typeof g === 'number' ? g : Array.isArray(g) && g.length === 2 ? ([g[0], g[1]] as [number, number]) : null;
  if (grid === null) throw new Error(`sincos_pos_embed: grid_size must be a number or [rows, cols], got ${JSON.stringify(g)}`);
  return { pos_embed: sincosPosEmbed2d(d, grid, cls === true) };
};
