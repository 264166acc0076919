/**
 * `moco_v3_loss`: MoCo v3 `contrastive_loss` both ways, via `mocoV3Loss`
 * with the temperature from `config.T`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mocoV3Loss } from '../../../src/losses/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const ws = c.config.world_size;
  if (ws != null && ws !== 1) throw new Error(`moco_v3_loss: world_size ${String(ws)} is not supported (single process only)`);
  const t = c.config.T;
  if (typeof t !== 'number') throw new Error(`moco_v3_loss: config.T must be a number, got ${JSON.stringify(t)}`);
  return tf.tidy(() => {
    const { loss, lossQ1K2, lossQ2K1 } = mocoV3Loss(
      c.tensor('input.q1'),
      c.tensor('input.q2'),
      c.tensor('input.k1'),
      c.tensor('input.k2'),
      { temperature: t },
    );
    return { loss, loss_q1k2: lossQ1K2, loss_q2k1: lossQ2K1 };
  });
};
