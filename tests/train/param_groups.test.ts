import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  AdamW,
  decays,
  layerId,
  layerwiseLrScales,
  namedTrainableVariables,
  paramGroupsLrd,
  paramGroupsWeightDecay,
} from '../../src/index.js';
import { moduleFromNames } from './helpers.js';

/** A depth-2 ViT / BEiT-style naming, with shapes (D = 4). */
const VIT: Record<string, number[]> = {
  cls_token: [1, 1, 4],
  mask_token: [1, 1, 4],
  pos_embed: [1, 5, 4],
  'patch_embed.proj.weight': [12, 4],
  'patch_embed.proj.bias': [4],
  'blocks.0.norm1.weight': [4],
  'blocks.0.norm1.bias': [4],
  'blocks.0.attn.qkv.weight': [4, 12],
  'blocks.0.attn.q_bias': [4],
  'blocks.0.attn.v_bias': [4],
  'blocks.0.attn.relative_position_bias_table': [10, 2],
  'blocks.0.attn.proj.weight': [4, 4],
  'blocks.0.ls1.gamma': [4],
  'blocks.0.gamma_1': [4],
  'blocks.0.mlp.fc1.weight': [4, 8],
  'blocks.1.mlp.fc2.weight': [8, 4],
  'blocks.1.mlp.fc2.bias': [4],
  'norm.weight': [4],
  'head.weight': [4, 3],
  'head.bias': [3],
  decoder_pos_embed: [1, 5, 4],
  'decoder_embed.weight': [4, 4],
  logit_scale: [],
};

describe('no-decay rule', () => {
  it('decays matrices only: not biases, norms, layer scales, tokens or position tables', () => {
    const got = Object.fromEntries(Object.entries(VIT).map(([n, s]) => [n, decays(n, s)]));
    expect(got).toEqual({
      cls_token: false,
      mask_token: false,
      pos_embed: false,
      'patch_embed.proj.weight': true,
      'patch_embed.proj.bias': false,
      'blocks.0.norm1.weight': false,
      'blocks.0.norm1.bias': false,
      'blocks.0.attn.qkv.weight': true,
      'blocks.0.attn.q_bias': false,
      'blocks.0.attn.v_bias': false,
      'blocks.0.attn.relative_position_bias_table': false,
      'blocks.0.attn.proj.weight': true,
      'blocks.0.ls1.gamma': false,
      'blocks.0.gamma_1': false,
      'blocks.0.mlp.fc1.weight': true,
      'blocks.1.mlp.fc2.weight': true,
      'blocks.1.mlp.fc2.bias': false,
      'norm.weight': false,
      'head.weight': true,
      'head.bias': false,
      decoder_pos_embed: false,
      'decoder_embed.weight': true,
      logit_scale: false,
    });
  });

  it('only the local name matches a keyword; a full name in the list matches exactly', () => {
    // CLIP's token embedding table decays (open_clip does); its local name is `weight`.
    expect(decays('token_embedding.weight', [10, 4])).toBe(true);
    expect(decays('encoder.embed_positions.A.weight', [5, 4])).toBe(true);
    expect(decays('encoder.embed_positions.A.weight', [5, 4], ['encoder.embed_positions.A.weight'])).toBe(false);
    expect(decays('pos_embed', [1, 5, 4], [])).toBe(true);
  });

  it('splits a Module into decay / no_decay groups, skipping frozen weights', () => {
    const m = moduleFromNames(VIT);
    m.namedWeights().get('decoder_embed.weight')!.trainable = false;
    const groups = paramGroupsWeightDecay(m, { weightDecay: 0.04 });
    expect(groups.map((g) => g.name)).toEqual(['decay', 'no_decay']);
    expect(groups[0]!.weightDecay).toBe(0.04);
    expect(groups[1]!.weightDecay).toBe(0);
    expect([...groups[0]!.params.keys()].sort()).toEqual(
      [
        'patch_embed.proj.weight',
        'blocks.0.attn.qkv.weight',
        'blocks.0.attn.proj.weight',
        'blocks.0.mlp.fc1.weight',
        'blocks.1.mlp.fc2.weight',
        'head.weight',
      ].sort(),
    );
    expect(groups[1]!.params.size).toBe(Object.keys(VIT).length - 6 - 1);
    expect(namedTrainableVariables(m).has('decoder_embed.weight')).toBe(false);
    expect(() => paramGroupsWeightDecay(m, { weightDecay: -1 })).toThrow(/weightDecay must be a finite number >= 0, got -1/);
    m.dispose();
  });
});

describe('layer-wise learning-rate decay', () => {
  it('assigns layers as MAE get_layer_id_for_vit / BEiT get_num_layer_for_vit', () => {
    const ids = Object.fromEntries(Object.keys(VIT).map((n) => [n, layerId(n, 2)]));
    expect(ids).toMatchObject({
      cls_token: 0,
      mask_token: 0,
      pos_embed: 0,
      'patch_embed.proj.weight': 0,
      'blocks.0.norm1.weight': 1,
      'blocks.0.attn.qkv.weight': 1,
      'blocks.1.mlp.fc2.bias': 2,
      'norm.weight': 3,
      'head.weight': 3,
      decoder_pos_embed: 3,
    });
    expect(layerId('blocks.11.attn.qkv.weight', 12)).toBe(12);
    expect(layerId('blocksX.0.weight', 12)).toBe(13);
    expect(() => layerId('blocks.12.norm1.weight', 12)).toThrow(/block index 12 of 'blocks.12.norm1.weight' must be < numLayers=12/);
    expect(() => layerId('head.weight', -1)).toThrow(/numLayers must be an integer >= 0, got -1/);
  });

  it('scales by decay^(numLayers + 1 - layer)', () => {
    const s = layerwiseLrScales(['pos_embed', 'blocks.0.mlp.fc1.weight', 'blocks.1.mlp.fc2.weight', 'head.weight'], 2, 0.5);
    expect([...s.entries()]).toEqual([
      ['pos_embed', 0.125],
      ['blocks.0.mlp.fc1.weight', 0.25],
      ['blocks.1.mlp.fc2.weight', 0.5],
      ['head.weight', 1],
    ]);
    // ViT-B, decay 0.75: the embedding trains at 0.75^13 of the head's rate.
    expect(layerwiseLrScales(['cls_token'], 12, 0.75).get('cls_token')).toBeCloseTo(0.75 ** 13, 15);
    expect(() => layerwiseLrScales([], 2, 0)).toThrow(/layerDecay must be in \(0, 1\], got 0/);
    expect(() => layerwiseLrScales([], 2, 1.5)).toThrow(/layerDecay must be in \(0, 1\], got 1.5/);
  });

  it('groups by (layer, decay) with lrScale and weight decay, as MAE param_groups_lrd', () => {
    const m = moduleFromNames(VIT);
    const groups = paramGroupsLrd(m, { numLayers: 2, layerDecay: 0.5, weightDecay: 0.05 });
    const byName = new Map(groups.map((g) => [g.name, g]));
    expect([...byName.keys()].sort()).toEqual(
      ['layer_0_decay', 'layer_0_no_decay', 'layer_1_decay', 'layer_1_no_decay', 'layer_2_decay', 'layer_2_no_decay', 'layer_3_decay', 'layer_3_no_decay'].sort(),
    );
    const g1 = byName.get('layer_1_decay')!;
    expect([g1.lrScale, g1.weightDecay]).toEqual([0.25, 0.05]);
    expect([...g1.params.keys()].sort()).toEqual(['blocks.0.attn.proj.weight', 'blocks.0.attn.qkv.weight', 'blocks.0.mlp.fc1.weight']);
    const g0n = byName.get('layer_0_no_decay')!;
    expect([g0n.lrScale, g0n.weightDecay]).toEqual([0.125, 0]);
    expect([...g0n.params.keys()].sort()).toEqual(['cls_token', 'mask_token', 'patch_embed.proj.bias', 'pos_embed']);
    expect(byName.get('layer_3_decay')!.lrScale).toBe(1);
    const total = groups.reduce((a, g) => a + g.params.size, 0);
    expect(total).toBe(Object.keys(VIT).length);
    expect(() => paramGroupsLrd(m, { numLayers: 1 })).toThrow(/block index 1/);
    m.dispose();
  });

  it('drives per-group learning rates inside AdamW', () => {
    const m = moduleFromNames({ 'blocks.0.w': [1, 1], 'head.w': [1, 1] });
    const opt = new AdamW(paramGroupsLrd(m, { numLayers: 1, layerDecay: 0.5, weightDecay: 0 }), { lr: 0.1 });
    const g: tf.NamedTensorMap = { 'blocks.0.w': tf.ones([1, 1]), 'head.w': tf.ones([1, 1]) };
    opt.step(g);
    tf.dispose(g);
    // First Adam step moves each weight by its group's lr (sign of g): 0.1 * 0.5 and 0.1.
    const w = m.namedWeights();
    expect(w.get('blocks.0.w')!.read().dataSync()[0]).toBeCloseTo(-0.05, 6);
    expect(w.get('head.w')!.read().dataSync()[0]).toBeCloseTo(-0.1, 6);
    opt.dispose();
    m.dispose();
  });
});
