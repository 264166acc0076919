import { existsSync, readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BpeTokenizer, bytesToUnicode, WordTokenizer } from '../../src/tokenizers/index.js';
import { TextTransformer } from '../../src/models/text_transformer.js';

/** A hand-made CLIP-style merges file: header line, then five merges. */
const MERGES = ['#version: test', 'l o', 'lo w</w>', 'e r</w>', 'n e', 'ne w</w>'].join('\n');

describe('BpeTokenizer', () => {
  const tok = BpeTokenizer.fromClipMerges(MERGES);

  it("builds CLIP's vocabulary layout: 256 byte symbols in bytes_to_unicode order, the same with </w>, merges, SOT, EOT", () => {
    const bytes = [...bytesToUnicode().values()];
    expect(bytes.slice(0, 3)).toEqual(['!', '"', '#']); // printable bytes first (Python dict order)
    expect(bytes[188]).toBe(String.fromCharCode(256)); // byte 0 -> U+0100, first of the remapped bytes
    expect(tok.vocabSize).toBe(512 + 5 + 2);
    expect(tok.sotTokenId).toBe(517);
    expect(tok.eotTokenId).toBe(518);
  });

  it('encodes with merges applied by rank, </w> at word ends, bytes for everything else (hand-computed ids)', () => {
    expect(tok.encode('low')).toEqual([513]); // l o w</w> -> lo w</w> -> low</w>
    expect(tok.encode('lower')).toEqual([512, 86, 514]); // lo, w, er</w> ('lo w' is no merge)
    expect(tok.encode('newer')).toEqual([515, 86, 514]); // e r</w> (rank 2) before n e (rank 3)
    expect(tok.encode('new')).toEqual([516]);
    expect(tok.encode('é')).toEqual([127, 358]); // UTF-8 C3 A9 -> 'Ã', '©</w>'
    expect(tok.encode('  LOW!!  ')).toEqual([513, 0, 256]); // cleaned, lower-cased; '!!' is one piece
    expect(tok.encode("it's")).toEqual([tok.encode('it')[0]!, tok.encode('it')[1]!, ...tok.encode("'s")]);
    expect(tok.encode('a &amp; b')).toEqual(tok.encode('a & b'));
    expect(tok.encode('<start_of_text>low')).toEqual([517, 513]);
    expect(tok.decode(tok.encode('lower newer é!'))).toBe('lower newer é !');
  });

  it('batch: [SOT, ids, EOT, 0...] with padding after EOT; too long -> cut, last id EOT', () => {
    const before = tf.memory().numTensors;
    const b = tok.batch(['low', 'newer'], 6);
    expect(Array.from(b.ids.dataSync())).toEqual([517, 513, 518, 0, 0, 0, 517, 515, 86, 514, 518, 0]);
    expect(Array.from(b.padding.dataSync())).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 1]);
    expect(b.ids.dtype).toBe('int32');
    const cut = tok.batch(['lower newer'], 4);
    expect(Array.from(cut.ids.dataSync())).toEqual([517, 512, 86, 518]);
    tf.dispose([b, cut]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tok.batch([], 4)).toThrow(/texts must be a non-empty array of strings/);
    expect(() => tok.batch(['a'], 1)).toThrow(/contextLength must be an integer >= 2.*got 1/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Hugging Face vocab.json + merges.txt form gives the same ids', () => {
    const bytes = [...bytesToUnicode().values()];
    const vocab: Record<string, number> = {};
    [...bytes, ...bytes.map((c) => `${c}</w>`), 'lo', 'low</w>', 'er</w>', 'ne', 'new</w>', '<|startoftext|>', '<|endoftext|>'].forEach((t, i) => (vocab[t] = i));
    const hf = BpeTokenizer.fromVocabAndMerges(vocab, MERGES);
    expect(hf.encode('lower newer')).toEqual(tok.encode('lower newer'));
    expect(hf.sotTokenId).toBe(517);
    expect(() => new BpeTokenizer({ vocab: { a: 0 }, merges: [] })).toThrow(/sotToken '<start_of_text>' is not in the vocabulary/);
  });
});

/** CLIP's own merges file (open_clip `bpe_simple_vocab_16e6.txt.gz`), when a path is given; not shipped. */
const CLIP_BPE = process.env.MIMKIT_CLIP_BPE ?? '';

describe.skipIf(!CLIP_BPE || !existsSync(CLIP_BPE))("BpeTokenizer on CLIP's vocabulary (MIMKIT_CLIP_BPE)", () => {
  it("gives CLIP's published ids", async () => {
    const tok = await BpeTokenizer.fromClipMergesGz(new Uint8Array(readFileSync(CLIP_BPE)));
    expect([tok.vocabSize, tok.sotTokenId, tok.eotTokenId]).toEqual([49408, 49406, 49407]);
    expect(tok.encode('a photo of a cat')).toEqual([320, 1125, 539, 320, 2368]);
    expect(tok.encode('a photo of a dog.')).toEqual([320, 1125, 539, 320, 1929, 269]);
    expect(tok.encode("it's")).toEqual([585, 568]);
  });
});

describe('WordTokenizer', () => {
  const tok = WordTokenizer.fromTexts(['a red circle', 'a blue square.']);

  it('ids: 0 pad, 1 unk, sorted words from 2, then SOT and EOT (the largest)', () => {
    expect(tok.words).toEqual(['.', 'a', 'blue', 'circle', 'red', 'square']);
    expect(tok.encode('A red square')).toEqual([3, 6, 7]);
    expect(tok.encode('a green circle.')).toEqual([3, 1, 5, 2]);
    expect(tok.sotTokenId).toBe(8);
    expect(tok.eotTokenId).toBe(9);
    expect(tok.vocabSize).toBe(10);
    expect(tok.decode([8, 3, 6, 7, 9, 0])).toBe('a red square');
    expect(() => new WordTokenizer({ words: ['a', 'b'], unknown: 'error' }).encode('a c')).toThrow(/word 'c' of "a c" is not in the vocabulary/);
    expect(() => new WordTokenizer({ words: ['a', 'A'] })).toThrow(/word 'a' appears twice/);
  });

  it('plugs into TextTransformer: argmax pooling picks the EOT token', () => {
    const m = new TextTransformer({ vocabSize: tok.vocabSize, contextLength: 6, width: 8, heads: 2, layers: 1, embedDim: null, seed: 1 });
    const all = new TextTransformer({ ...m.config, pool: 'none' });
    for (const [k, w] of all.namedWeights()) w.write(m.namedWeights().get(k)!.read());
    const b = tok.batch(['a red circle', 'blue'], 6);
    const pooled = m.forward(b.ids);
    const tokens = all.forward(b.ids);
    // EOT positions: 4 and 2.
    const want = tf.reshape(tf.concat([tf.slice(tokens, [0, 4, 0], [1, 1, 8]), tf.slice(tokens, [1, 2, 0], [1, 1, 8])]), [2, 8]);
    expect(Array.from(pooled.dataSync())).toEqual(Array.from(want.dataSync()));
  });
});
