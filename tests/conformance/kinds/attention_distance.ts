/**
 * `attention_distance`: mean attention distance per head (pixels, prefix
 * tokens dropped, no renormalisation) via the library's
 * `meanAttentionDistance`.
 */
import { meanAttentionDistance } from '../../../src/analysis/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const cfg = c.config;
  if (cfg.renormalize === true) {
    throw new Error('attention_distance: renormalize=true is not supported (the definition does not renormalise)');
  }
  const g = cfg.grid_size;
  const grid = typeof g === 'number' ? g : Array.isArray(g) && g.length === 2 ? ([g[0], g[1]] as [number, number]) : null;
  if (grid === null) throw new Error(`attention_distance: grid_size must be a number or [rows, cols], got ${JSON.stringify(g)}`);
  const attn = c.tensor('input.attn');
  const distance = meanAttentionDistance(attn, {
    gridSize: grid,
    patchSize: cfg.patch_size as number,
    numPrefixTokens: (cfg.num_prefix_tokens as number | undefined) ?? 1,
  });
  attn.dispose();
  return { distance };
};
