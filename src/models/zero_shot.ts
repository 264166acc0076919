import * as tf from '@tensorflow/tfjs-core';
import { l2Normalize } from '../losses/common.js';
import { matMul } from '../ops/matmul.js';
import type { TextTokenizer } from '../tokenizers/text/types.js';
import { CLIP } from './clip.js';
import { describeValue } from '../utils/config.js';

/** A prompt template: a string with `{}` where the class name goes (`'a photo of a {}.'`), or a function of the name. */
export type PromptTemplate = string | ((classname: string) => string);

/** Options of {@link zeroShotClassifier}. */
export interface ZeroShotClassifierOptions {
  /** Token rows per text. Default the text tower's `contextLength`. */
  contextLength?: number;
  /** Classes encoded per text-tower call (open_clip `num_classes_per_batch`). Default 10. */
  classesPerBatch?: number;
}

/**
 * CLIP's zero-shot classifier (Radford et al. 2021, section 3.1.4; open_clip
 * `build_zero_shot_classifier`): for each class, every template filled with
 * its name is encoded by the text tower and L2-normalised, the embeddings
 * are averaged over the templates and normalised again.
 *
 * @returns `[C, E]`, row `c` the unit-length embedding of class `c` (open_clip
 *   returns its transpose `[E, C]`); use with {@link zeroShotLogits}.
 */
export function zeroShotClassifier(
  model: CLIP,
  tokenizer: TextTokenizer,
  classnames: readonly string[],
  templates: readonly PromptTemplate[],
  options: ZeroShotClassifierOptions = {},
): tf.Tensor2D {
  const fn = 'zeroShotClassifier';
  if (!(model instanceof CLIP)) throw new Error(`${fn}: model must be a CLIP, got ${describeValue(model)}`);
  if (!Array.isArray(classnames) || classnames.length === 0 || classnames.some((c) => typeof c !== 'string')) {
    throw new Error(`${fn}: classnames must be a non-empty array of strings, got ${Array.isArray(classnames) ? `${classnames.length} entries` : typeof classnames}`);
  }
  if (!Array.isArray(templates) || templates.length === 0) {
    throw new Error(`${fn}: templates must be a non-empty array of strings with '{}' or functions, got ${Array.isArray(templates) ? '[]' : typeof templates}`);
  }
  templates.forEach((t, i) => {
    if (!(typeof t === 'function' || (typeof t === 'string' && t.includes('{}')))) {
      throw new Error(`${fn}: templates[${i}] must be a string with '{}' for the class name, or a function, got ${JSON.stringify(t)}`);
    }
  });
  const per = options.classesPerBatch ?? 10;
  if (!Number.isInteger(per) || per < 1) throw new Error(`${fn}: options.classesPerBatch must be a positive integer, got ${per}`);
  const ctx = options.contextLength ?? model.text.config.contextLength;
  const fill = (t: PromptTemplate, c: string) => (typeof t === 'function' ? t(c) : t.split('{}').join(c));
  const texts = classnames.map((c) => templates.map((t) => fill(t, c)));
  const T = templates.length;
  return tf.tidy(() => {
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < classnames.length; start += per) {
      const chunk = texts.slice(start, start + per);
      const { ids, padding } = tokenizer.batch(chunk.flat(), ctx);
      padding.dispose();
      const emb = model.encodeText(ids, { normalize: true }); // [n*T, E]
      const e = emb.shape[1];
      const mean = tf.mean(tf.reshape(emb, [chunk.length, T, e]), 1);
      parts.push(l2Normalize(mean));
    }
    return (parts.length === 1 ? parts[0]! : tf.concat(parts, 0)) as tf.Tensor2D;
  });
}

/** Options of {@link zeroShotLogits}. */
export interface ZeroShotLogitsOptions {
  /** Factor on the cosine similarities. Default 100 (open_clip's zero-shot evaluation). */
  scale?: number;
}

/**
 * Zero-shot logits `scale * normalize(encodeImage(images)) @ classifier^T`,
 * `[B, C]` (open_clip `zero_shot_eval`: `100 * image_features @ classifier`);
 * the predicted class is the row's argmax.
 */
export function zeroShotLogits(model: CLIP, images: tf.Tensor, classifier: tf.Tensor, options: ZeroShotLogitsOptions = {}): tf.Tensor2D {
  if (!(model instanceof CLIP)) throw new Error(`zeroShotLogits: model must be a CLIP, got ${describeValue(model)}`);
  const E = model.visual.outputDim;
  if (!(classifier instanceof tf.Tensor) || classifier.rank !== 2 || classifier.shape[1] !== E) {
    throw new Error(
      `zeroShotLogits: classifier must be [C, E=${E}] (from zeroShotClassifier), got ${classifier instanceof tf.Tensor ? `shape [${classifier.shape}]` : String(classifier)}`,
    );
  }
  const scale = options.scale ?? 100;
  if (!Number.isFinite(scale)) throw new Error(`zeroShotLogits: options.scale must be a finite number, got ${scale}`);
  model.visual.checkInputs(images);
  return tf.tidy(() => tf.mul(matMul(model.encodeImage(images, { normalize: true }), classifier, false, true), scale) as tf.Tensor2D);
}
