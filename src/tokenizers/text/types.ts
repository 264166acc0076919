import * as tf from '@tensorflow/tfjs-core';

/**
 * A batch of tokenised texts (all NEW tensors, the caller disposes them; a
 * type alias, so `tf.tidy` accepts it).
 */
export type TokenBatch = {
  /** int32 `[B, L]`: start-of-text, the text's ids, end-of-text, then `padTokenId`. */
  ids: tf.Tensor2D;
  /** bool `[B, L]`: true after the end-of-text token (padding), for `TextForwardOptions.padding` / `keyPaddingMask`. */
  padding: tf.Tensor2D;
};

/**
 * What a text model needs from a tokenizer: ids for a string, and fixed-length
 * batches with CLIP's layout (`[SOT, ...ids, EOT, pad, pad, ...]`).
 * Implemented by {@link WordTokenizer} and {@link BpeTokenizer}.
 */
export interface TextTokenizer {
  /** Number of ids (every id is in `[0, vocabSize)`). */
  readonly vocabSize: number;
  /** Start-of-text id. */
  readonly sotTokenId: number;
  /** End-of-text id (the largest id in CLIP's vocabularies, so argmax pooling finds it). */
  readonly eotTokenId: number;
  /** Id written after the end-of-text token. */
  readonly padTokenId: number;
  /** The ids of one text, without start/end tokens. */
  encode(text: string): number[];
  /** The text of ids (special tokens dropped). */
  decode(ids: readonly number[]): string;
  /**
   * `[B, contextLength]` ids with start and end tokens and padding; a text
   * too long is cut to `contextLength` with its last id replaced by the end
   * token (open_clip's `tokenize`).
   */
  batch(texts: readonly string[], contextLength: number): TokenBatch;
}

/**
 * Builds a {@link TokenBatch} from a tokenizer's `encode` (shared by the
 * tokenizers; open_clip `SimpleTokenizer.__call__`). Validates everything
 * before creating tensors.
 */
export function batchTokens(tok: TextTokenizer, owner: string, texts: readonly string[], contextLength: number): TokenBatch {
  if (!Array.isArray(texts) || texts.length === 0 || texts.some((t) => typeof t !== 'string')) {
    throw new Error(`${owner}.batch: texts must be a non-empty array of strings, got ${Array.isArray(texts) ? `${texts.length} entries` : typeof texts}`);
  }
  if (!Number.isInteger(contextLength) || contextLength < 2) {
    throw new Error(`${owner}.batch: contextLength must be an integer >= 2 (room for start and end tokens), got ${contextLength}`);
  }
  const b = texts.length;
  const ids = new Int32Array(b * contextLength).fill(tok.padTokenId);
  const pad = new Uint8Array(b * contextLength).fill(1);
  texts.forEach((t, i) => {
    let row = [tok.sotTokenId, ...tok.encode(t), tok.eotTokenId];
    if (row.length > contextLength) {
      row = row.slice(0, contextLength);
      row[contextLength - 1] = tok.eotTokenId;
    }
    ids.set(row, i * contextLength);
    pad.fill(0, i * contextLength, i * contextLength + row.length);
  });
  return {
    ids: tf.tensor2d(ids, [b, contextLength], 'int32'),
    padding: tf.tensor2d(pad, [b, contextLength], 'bool'),
  };
}
