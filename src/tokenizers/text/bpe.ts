import { batchTokens, type TextTokenizer, type TokenBatch } from './types.js';

/**
 * GPT-2 / CLIP's reversible map from the 256 byte values to printable
 * Unicode characters (`bytes_to_unicode`): printable Latin-1 bytes map to
 * themselves, the others to `U+0100` onwards, in byte order. The map's
 * iteration order is Python's dict order (the printable bytes first), which
 * is the order of the first 256 ids of CLIP's vocabulary.
 */
export function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  return new Map(bs.map((b, i) => [b, String.fromCharCode(cs[i]!)]));
}

/** How {@link BpeTokenizer} cleans a text first (open_clip `clean`). */
export type BpeClean = 'lower' | 'whitespace' | 'none';

/** Config of {@link BpeTokenizer}. */
export interface BpeTokenizerConfig {
  /** Merge rules in priority order (rank = index), each a pair of symbols. */
  merges: readonly (readonly [string, string])[];
  /** Token string -> id (must hold every byte symbol, with and without `</w>`, the merge results used, and the special tokens). */
  vocab: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  /** Start-of-text token string. Default `'<start_of_text>'` (open_clip; Hugging Face's CLIP vocab says `'<|startoftext|>'`). */
  sotToken?: string;
  /** End-of-text token string. Default `'<end_of_text>'` (Hugging Face: `'<|endoftext|>'`). */
  eotToken?: string;
  /** Id written after the end token. Default 0 (CLIP pads with 0, which is also `'!'`). */
  padTokenId?: number;
  /**
   * Text cleaning: `'lower'` (default, open_clip's `SimpleTokenizer`):
   * HTML entities unescaped, whitespace collapsed, lower case;
   * `'whitespace'`: the same without lower-casing; `'none'`: as given.
   * ftfy's mojibake repair, which open_clip also runs, is not reproduced.
   */
  clean?: BpeClean;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#39': "'" };

/** Python's `html.unescape` for the common named entities and every numeric one. */
function unescapeHtml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+[0-9]*);/gi, (m, e: string) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * CLIP's byte-level BPE tokenizer (Radford et al. 2021; open_clip
 * `SimpleTokenizer`, itself GPT-2's byte-level BPE with an end-of-word
 * marker): clean the text, split it with CLIP's pattern
 * (`'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`, special tokens
 * first), map each piece's UTF-8 bytes to printable characters
 * ({@link bytesToUnicode}), mark its last character with `</w>`, apply the
 * merges by rank until none applies, and look the symbols up in the
 * vocabulary. No unknown token is ever needed.
 *
 * Load CLIP's own vocabulary with {@link BpeTokenizer.fromClipMerges}
 * (open_clip's `bpe_simple_vocab_16e6.txt`, gunzipped, or
 * {@link BpeTokenizer.fromClipMergesGz} on the `.gz` bytes) or
 * {@link BpeTokenizer.fromVocabAndMerges} (Hugging Face `vocab.json` +
 * `merges.txt`).
 */
export class BpeTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly sotTokenId: number;
  readonly eotTokenId: number;
  readonly padTokenId: number;
  readonly clean: BpeClean;
  private readonly encoder: Map<string, number>;
  private readonly decoder: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly byteEncoder: string[] = (() => {
    const m = bytesToUnicode();
    return Array.from({ length: 256 }, (_, b) => m.get(b)!);
  })();
  private readonly byteDecoder: Map<string, number>;
  private readonly pattern: RegExp;
  private readonly specials: Set<string>;
  private readonly cache = new Map<string, string[]>();

  constructor(config: BpeTokenizerConfig) {
    const vocab = config?.vocab instanceof Map ? new Map(config.vocab) : new Map(Object.entries(config?.vocab ?? {}));
    if (vocab.size === 0) throw new Error('BpeTokenizer: vocab must map token strings to ids, got an empty vocabulary');
    if (!Array.isArray(config.merges)) throw new Error('BpeTokenizer: merges must be an array of [first, second] pairs');
    this.encoder = vocab;
    this.decoder = new Map();
    let maxId = -1;
    for (const [k, v] of vocab) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`BpeTokenizer: vocab['${k}'] must be a non-negative integer id, got ${v}`);
      this.decoder.set(v, k);
      maxId = Math.max(maxId, v);
    }
    this.vocabSize = maxId + 1;
    this.ranks = new Map();
    config.merges.forEach((m, i) => {
      if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || typeof m[1] !== 'string') {
        throw new Error(`BpeTokenizer: merges[${i}] must be a pair of strings, got ${JSON.stringify(m)}`);
      }
      const key = `${m[0]} ${m[1]}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    const sot = config.sotToken ?? '<start_of_text>';
    const eot = config.eotToken ?? '<end_of_text>';
    for (const [name, t] of [['sotToken', sot], ['eotToken', eot]] as const) {
      if (!vocab.has(t)) throw new Error(`BpeTokenizer: ${name} '${t}' is not in the vocabulary`);
    }
    this.sotTokenId = vocab.get(sot)!;
    this.eotTokenId = vocab.get(eot)!;
    this.padTokenId = config.padTokenId ?? 0;
    if (!Number.isInteger(this.padTokenId) || this.padTokenId < 0 || this.padTokenId >= this.vocabSize) {
      throw new Error(`BpeTokenizer: padTokenId must be an id in [0, ${this.vocabSize}), got ${this.padTokenId}`);
    }
    this.clean = config.clean ?? 'lower';
    if (!['lower', 'whitespace', 'none'].includes(this.clean)) throw new Error(`BpeTokenizer: clean must be 'lower', 'whitespace' or 'none', got '${String(this.clean)}'`);
    this.byteDecoder = new Map(this.byteEncoder.map((c, b) => [c, b]));
    for (const c of this.byteEncoder) {
      if (!vocab.has(c) || !vocab.has(`${c}</w>`)) {
        throw new Error(`BpeTokenizer: the vocabulary lacks the byte symbol '${c}' (U+${c.charCodeAt(0).toString(16)}) or '${c}</w>'; every byte needs both`);
      }
    }
    this.specials = new Set([sot, eot]);
    this.pattern = new RegExp(
      `${[sot, eot].map(escapeRe).join('|')}|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+`,
      'giu',
    );
  }

  /**
   * CLIP's own vocabulary from the text of open_clip's / OpenAI's
   * `bpe_simple_vocab_16e6.txt` (gunzipped): line 0 is a header and is
   * skipped, the next `numMerges` lines are the merges; the vocabulary is
   * the 256 byte symbols, the same with `</w>`, one symbol per merge, then
   * `<start_of_text>` and `<end_of_text>` (49408 ids for CLIP, SOT 49406,
   * EOT 49407). `options.numMerges`: merges taken, default
   * `49152 - 256 - 2` = 48894 (CLIP's), or all the file has if fewer.
   */
  static fromClipMerges(text: string, options: { numMerges?: number; clean?: BpeClean } = {}): BpeTokenizer {
    if (typeof text !== 'string') throw new Error(`BpeTokenizer.fromClipMerges: text must be the merges file's text, got ${typeof text}`);
    const lines = text.split('\n').slice(1);
    const n = options.numMerges ?? 49152 - 256 - 2;
    if (!Number.isInteger(n) || n < 0) throw new Error(`BpeTokenizer.fromClipMerges: numMerges must be a non-negative integer, got ${n}`);
    const merges: [string, string][] = [];
    for (const line of lines) {
      if (merges.length >= n) break;
      const parts = line.trim().split(/\s+/);
      if (parts.length === 2 && parts[0] !== '') merges.push([parts[0]!, parts[1]!]);
      else if (line.trim() !== '') throw new Error(`BpeTokenizer.fromClipMerges: merge line '${line}' is not two symbols`);
    }
    const bytes = [...bytesToUnicode().values()];
    const vocab = [...bytes, ...bytes.map((c) => `${c}</w>`), ...merges.map(([a, b]) => a + b), '<start_of_text>', '<end_of_text>'];
    return new BpeTokenizer({ merges, vocab: new Map(vocab.map((t, i) => [t, i])), clean: options.clean });
  }

  /** {@link BpeTokenizer.fromClipMerges} from the gzipped file's bytes (needs `DecompressionStream`: browsers, Node >= 18). */
  static async fromClipMergesGz(bytes: Uint8Array, options: { numMerges?: number; clean?: BpeClean } = {}): Promise<BpeTokenizer> {
    const DS = (globalThis as { DecompressionStream?: new (f: string) => TransformStream<Uint8Array, Uint8Array> }).DecompressionStream;
    if (!DS) throw new Error('BpeTokenizer.fromClipMergesGz: no DecompressionStream here; gunzip the file and call fromClipMerges');
    const stream = new Blob([new Uint8Array(bytes)]).stream().pipeThrough(new DS('gzip'));
    const text = await new Response(stream).text();
    return BpeTokenizer.fromClipMerges(text, options);
  }

  /**
   * A tokenizer from Hugging Face files: `vocab.json` (token -> id) and
   * `merges.txt` (a `#version` header line, then one merge per line).
   * Special tokens default to Hugging Face CLIP's `<|startoftext|>` and
   * `<|endoftext|>`.
   */
  static fromVocabAndMerges(
    vocab: Readonly<Record<string, number>>,
    mergesText: string,
    options: Omit<BpeTokenizerConfig, 'vocab' | 'merges'> = {},
  ): BpeTokenizer {
    const merges: [string, string][] = [];
    for (const line of mergesText.split('\n')) {
      const t = line.trim();
      if (t === '' || t.startsWith('#version')) continue;
      const parts = t.split(/\s+/);
      if (parts.length !== 2) throw new Error(`BpeTokenizer.fromVocabAndMerges: merge line '${line}' is not two symbols`);
      merges.push([parts[0]!, parts[1]!]);
    }
    return new BpeTokenizer({ sotToken: '<|startoftext|>', eotToken: '<|endoftext|>', ...options, vocab, merges });
  }

  private cleanText(text: string): string {
    if (this.clean === 'none') return text;
    const t = unescapeHtml(unescapeHtml(text)).trim().split(/\s+/).filter((w) => w !== '').join(' ');
    return this.clean === 'lower' ? t.toLowerCase() : t;
  }

  /** The BPE symbols of one pre-token (its byte characters, already mapped). */
  bpe(token: string): string[] {
    const hit = this.cache.get(token);
    if (hit) return hit;
    let word = [...token];
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const first = word[best]!;
      const second = word[best + 1]!;
      const next: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
          next.push(first + second);
          i += 2;
        } else {
          next.push(word[i]!);
          i += 1;
        }
      }
      word = next;
    }
    this.cache.set(token, word);
    return word;
  }

  encode(text: string): number[] {
    if (typeof text !== 'string') throw new Error(`BpeTokenizer.encode: text must be a string, got ${typeof text}`);
    const out: number[] = [];
    const utf8 = new TextEncoder();
    for (const m of this.cleanText(text).matchAll(this.pattern)) {
      const piece = m[0];
      if (this.specials.has(piece)) {
        out.push(this.encoder.get(piece)!);
        continue;
      }
      const mapped = Array.from(utf8.encode(piece), (b) => this.byteEncoder[b]!).join('');
      for (const sym of this.bpe(mapped)) {
        const id = this.encoder.get(sym);
        if (id === undefined) throw new Error(`BpeTokenizer.encode: the merge result '${sym}' is not in the vocabulary`);
        out.push(id);
      }
    }
    return out;
  }

  /** The text of ids: symbols joined, bytes decoded as UTF-8, `</w>` read as a space; start/end/pad ids dropped. */
  decode(ids: readonly number[]): string {
    const skip = new Set([this.sotTokenId, this.eotTokenId]);
    const chars = ids
      .filter((i) => !skip.has(i))
      .map((i) => {
        const t = this.decoder.get(i);
        if (t === undefined) throw new Error(`BpeTokenizer.decode: id ${i} is not in the vocabulary [0, ${this.vocabSize})`);
        return t;
      })
      .join('');
    const bytes: number[] = [];
    const parts = chars.split('</w>');
    parts.forEach((p, k) => {
      for (const c of p) bytes.push(this.byteDecoder.get(c) ?? 63);
      if (k < parts.length - 1) bytes.push(32);
    });
    return new TextDecoder().decode(new Uint8Array(bytes)).trim();
  }

  batch(texts: readonly string[], contextLength: number): TokenBatch {
    return batchTokens(this, 'BpeTokenizer', texts, contextLength);
  }
}
