/**
 * `tinymim_relation`: TinyMIM relation distillation of one student block
 * (`student_block`, 1-based; its `student_last_heads` heads) from one teacher
 * block (`teacher_intermediate`, 1-based; `teacher_num_heads` heads), via the
 * library's `relations` (LayerNorm + fused qkv Linear modules loaded with
 * `loadWeights`) and `relationDistillationLoss`. Widths come from the weight
 * shapes, the scales from the config when given (else `d^-0.5`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { LayerNorm, Linear } from '../../../src/layers/index.js';
import { loadWeights } from '../../../src/io/index.js';
import { relations, relationDistillationLoss, type Relations } from '../../../src/losses/index.js';
import { configReader } from '../config.js';
import type { ConformanceCase, KindRunner } from '../types.js';

const { normEps, int } = configReader('tinymim_relation');

function blockRelations(
  c: ConformanceCase,
  who: 'student' | 'teacher',
  block: number,
  heads: number,
  scale: unknown,
  eps: number,
): Relations {
  const prefix = `blocks.${block}.`;
  const params = c.params(`${who}.`);
  const w = params.get(`${prefix}attn.qkv.weight`);
  if (!w) throw new Error(`tinymim_relation: missing param.${who}.${prefix}attn.qkv.weight`);
  const dim = w.shape[1]!;
  const hasBias = params.has(`${prefix}attn.qkv.bias`);
  const norm1 = new LayerNorm({ dim, eps });
  const qkv = new Linear({ inFeatures: dim, outFeatures: 3 * dim, bias: hasBias });
  try {
    loadWeights(norm1, params, { prefix: `${prefix}norm1.` });
    loadWeights(qkv, params, { prefix: `${prefix}attn.qkv.` });
    const x = c.tensor(`input.${who}_x`);
    const r = relations(x, norm1, qkv, heads, typeof scale === 'number' ? { scale } : {});
    x.dispose();
    return r;
  } finally {
    tf.dispose([...params.values()]);
    norm1.dispose();
    qkv.dispose();
  }
}

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const eps = normEps(cfg.norm_layer);
  const sBlock = int(cfg, 'student_block', 12) - 1;
  const tBlock = int(cfg, 'teacher_intermediate') - 1;
  const sHeads = int(cfg, 'student_last_heads', cfg.num_heads as number);
  const tHeads = int(cfg, 'teacher_num_heads');
  const s = blockRelations(c, 'student', sBlock, sHeads, cfg.student_scale, eps);
  const t = blockRelations(c, 'teacher', tBlock, tHeads, cfg.teacher_scale, eps);
  const { loss, qkLoss, vvLoss } = relationDistillationLoss(s, t);
  return {
    student_qk: s.qk,
    student_vv: s.vv,
    teacher_qk: t.qk,
    teacher_vv: t.vv,
    qk_loss: qkLoss,
    vv_loss: vvLoss,
    loss,
  };
};
