/**
 * `clip_loss`: open_clip `ClipLoss` (single process) via the library's
 * `clipLoss`. `param.logit_scale` is the log of the scale; the features are
 * used as given (already unit length), so `normalize` stays off.
 */
import * as tf from '@tensorflow/tfjs-core';
import { clipLoss } from '../../../src/losses/index.js';
import type { KindRunner } from '../types.js';

export const run: KindRunner = (c) => {
  const ws = c.config.world_size;
  if (ws != null && ws !== 1) throw new Error(`clip_loss: world_size ${String(ws)} is not supported (single process only)`);
  if (c.config.local_loss === true) throw new Error('clip_loss: local_loss=true is not supported');
  return tf.tidy(() => {
    const { loss, logitsPerImage, logitsPerText } = clipLoss(
      c.tensor('input.image_features'),
      c.tensor('input.text_features'),
      c.tensor('param.logit_scale'),
    );
    return { loss, logits_per_image: logitsPerImage, logits_per_text: logitsPerText };
  });
};
