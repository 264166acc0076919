import { batchTokens, type TextTokenizer, type TokenBatch } from './types.js';

/** Config of {@link WordTokenizer}. */
export interface WordTokenizerConfig {
  /** The words, in id order (ids start at 2, after `<pad>` and `<unk>`); duplicates are refused. */
  words: readonly string[];
  /** Lower-case texts (and the words) first. Default `true`. */
  lowercase?: boolean;
  /** A word not in the vocabulary: `'unk'` maps it to `<unk>` (id 1), `'error'` throws. Default `'unk'`. */
  unknown?: 'unk' | 'error';
}

/** Splits a text into words and single punctuation marks (Unicode letters and digits form words). */
export function splitWords(text: string): string[] {
  if (typeof text !== 'string') throw new Error(`splitWords: text must be a string, got ${text === null ? 'null' : typeof text}`);
  return text.match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

/**
 * A word-level tokenizer over a fixed vocabulary (for small synthetic
 * caption sets; CLIP itself uses {@link BpeTokenizer}). Ids: 0 `<pad>`,
 * 1 `<unk>`, `2 .. n+1` the words in the given order, `n+2`
 * `<start_of_text>`, `n+3` `<end_of_text>` (the largest id, as in CLIP, so
 * the text tower's argmax pooling finds it).
 *
 * @example
 * const tok = WordTokenizer.fromTexts(['a red circle', 'a blue square']);
 * const { ids, padding } = tok.batch(['a red square'], 8);
 */
export class WordTokenizer implements TextTokenizer {
  /** The words, in id order (id = index + 2). */
  readonly words: readonly string[];
  readonly lowercase: boolean;
  readonly unknown: 'unk' | 'error';
  readonly vocabSize: number;
  readonly sotTokenId: number;
  readonly eotTokenId: number;
  readonly padTokenId = 0;
  /** Id of `<unk>`. */
  readonly unkTokenId = 1;
  private readonly index = new Map<string, number>();

  constructor(config: WordTokenizerConfig) {
    const words = config?.words;
    if (!Array.isArray(words) || words.some((w) => typeof w !== 'string' || w === '')) {
      throw new Error('WordTokenizer: words must be an array of non-empty strings');
    }
    this.lowercase = config.lowercase ?? true;
    this.unknown = config.unknown ?? 'unk';
    if (this.unknown !== 'unk' && this.unknown !== 'error') throw new Error(`WordTokenizer: unknown must be 'unk' or 'error', got '${String(this.unknown)}'`);
    this.words = words.map((w) => (this.lowercase ? w.toLowerCase() : w));
    this.words.forEach((w, i) => {
      if (this.index.has(w)) throw new Error(`WordTokenizer: word '${w}' appears twice (entries ${this.index.get(w)! - 2} and ${i})`);
      this.index.set(w, i + 2);
    });
    this.sotTokenId = words.length + 2;
    this.eotTokenId = words.length + 3;
    this.vocabSize = words.length + 4;
  }

  /** A tokenizer whose vocabulary is every word of `texts` (sorted, so the ids do not depend on the order of the texts). */
  static fromTexts(texts: readonly string[], options: Omit<WordTokenizerConfig, 'words'> = {}): WordTokenizer {
    const lower = options.lowercase ?? true;
    const set = new Set<string>();
    for (const t of texts) for (const w of splitWords(lower ? t.toLowerCase() : t)) set.add(w);
    return new WordTokenizer({ ...options, words: [...set].sort() });
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new Error(`WordTokenizer.encode: text must be a string, got ${typeof text}`);
    return splitWords(this.lowercase ? text.toLowerCase() : text).map((w) => {
      const id = this.index.get(w);
      if (id !== undefined) return id;
      if (this.unknown === 'error') throw new Error(`WordTokenizer.encode: word '${w}' of "${text}" is not in the vocabulary`);
      return this.unkTokenId;
    });
  }

  decode(ids: readonly number[]): string {
    return ids
      .filter((i) => i === this.unkTokenId || (i >= 2 && i < this.words.length + 2))
      .map((i) => (i === this.unkTokenId ? '<unk>' : this.words[i - 2]!))
      .join(' ');
  }

  batch(texts: readonly string[], contextLength: number): TokenBatch {
    return batchTokens(this, 'WordTokenizer', texts, contextLength);
  }
}
