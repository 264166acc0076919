/**
 * `vit_block`: one timm pre-norm ViT `Block` via the library's `Block`.
 * Dimensions and heads from the config; bias and layer-scale form from the
 * file's keys (timm `qkv.bias` / `ls1.gamma`, or BEiT `q_bias` / `gamma_1`),
 * checked against the config; LayerNorm eps from `norm_layer`.
 */
import { Block, type QkvBias } from '../../../src/layers/index.js';
import { loadWeights } from '../../../src/io/index.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { normEps } = configReader('vit_block');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const dim = cfg.dim as number;
  const numHeads = cfg.num_heads as number;
  if (cfg.act_layer != null && !/^GELU(\(exact\))?$/.test(String(cfg.act_layer))) {
    throw new Error(`vit_block: act_layer ${JSON.stringify(cfg.act_layer)} is not supported (exact GELU only)`);
  }
  if (cfg.qk_norm === true) throw new Error('vit_block: qk_norm=true is not supported');
  if (cfg.proj_bias === false) throw new Error('vit_block: proj_bias=false is not supported');
  const qkvBias: QkvBias = c.has('param.attn.q_bias') ? 'qv' : cfg.qkv_bias === true ? 'qkv' : 'none';
  const beit = c.has('param.gamma_1');
  const initValues = cfg.init_values == null ? (beit || c.has('param.ls1.gamma') ? 1 : null) : Number(cfg.init_values);
  const blk = new Block({
    dim,
    numHeads,
    mlpRatio: (cfg.mlp_ratio as number | undefined) ?? 4,
    qkvBias,
    initValues,
    layerScaleNaming: beit ? 'beit' : 'timm',
    normEps: normEps(cfg.norm_layer),
  });
  try {
    loadWeights(blk, c.params()); // strict: every key must match
    const x = c.tensor('input.x');
    const { out, attn } = blk.forward(x, { returnAttention: true });
    x.dispose();
    return { out, attn: attn! };
  } finally {
    blk.dispose();
  }
};
