/** `simsiam_loss`: SimSiam's symmetrised negative cosine via `simsiamLoss`. */
import * as tf from '@tensorflow/tfjs-core';
import { simsiamLoss } from '../../../src/losses/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const crit = c.config.criterion;
  const m = crit == null ? null : /eps\s*=\s*([0-9.eE+-]+)/.exec(String(crit));
  if (crit != null && (!/^CosineSimilarity\(dim=1/.test(String(crit)) || !m)) {
    throw new Error(`simsiam_loss: criterion must be CosineSimilarity(dim=1, eps=...), got ${JSON.stringify(crit)}`);
  }
  const eps = m ? Number(m[1]) : 1e-8;
  return tf.tidy(() => ({
    loss: simsiamLoss(c.tensor('input.p1'), c.tensor('input.p2'), c.tensor('input.z1'), c.tensor('input.z2'), { eps }),
  }));
};
