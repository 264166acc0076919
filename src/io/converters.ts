/**
 * Weight converters: how a foreign checkpoint's `state_dict` keys map onto a
 * {@link Module}'s keys, in the spirit of timm's `checkpoint_filter_fn`: an
 * ordered rename table, its inverse for export, and the foreign keys to
 * ignore. Layouts are not a converter's business: every weight records its
 * PyTorch layout (`Module.namedLayouts()`), and import/export convert it once.
 */
import { TIMM_RESAMPLE, type ConverterResample } from './pos_resize.js';

import { describeValue } from '../utils/config.js';

/**
 * One rename step `[pattern, replacement]`. A string pattern replaces every
 * occurrence of that literal substring (Python's `str.replace`); a RegExp is
 * applied with `String.prototype.replace` (its own flags decide whether all
 * matches are replaced; `$1` etc. work in the replacement).
 */
export type RenameRule = readonly [pattern: RegExp | string, replacement: string];

/**
 * A key-pattern for {@link WeightConverter.skip}: a string matches a key equal
 * to it or starting with it (`'decoder'` skips `decoder_embed.weight`); a
 * RegExp matches when it is found anywhere in the key.
 */
export type KeyPattern = RegExp | string;

/** A named, documented mapping between foreign `state_dict` keys and module keys. */
export interface WeightConverter {
  /** Short identifier (`'timm-vit'`, `'mae'`), used in error messages. */
  readonly name: string;
  /** What checkpoints it is for and what it renames or drops. */
  readonly doc: string;
  /** Foreign key -> module key, applied in order, each to the previous result. */
  readonly renames: readonly RenameRule[];
  /**
   * Module key -> foreign key for export, applied in order; `null` when the
   * converter is import-only (export then throws).
   */
  readonly inverse: readonly RenameRule[] | null;
  /** Foreign keys that import ignores (e.g. MAE's decoder when loading only the encoder). */
  readonly skip: readonly KeyPattern[];
  /**
   * How the converter's reference resizes an absolute position table of a
   * checkpoint made at another image size (used by `loadWeights(...,
   * { resizePosEmbed: true })`). Default timm's (bicubic, antialias).
   */
  readonly posEmbedResample: ConverterResample;
}

/** What {@link defineConverter} takes. */
export interface ConverterSpec {
  /** See {@link WeightConverter.name}. */
  name: string;
  /** See {@link WeightConverter.doc}. */
  doc: string;
  /** Foreign -> module renames. Default none (keys are the same). */
  renames?: readonly RenameRule[];
  /**
   * Module -> foreign renames. Default: when every rename pattern is a
   * string, the renames reversed and swapped (exact for literal renames whose
   * replacements do not overlap); with RegExp renames it must be given, or be
   * `null` for an import-only converter.
   */
  inverse?: readonly RenameRule[] | null;
  /** Foreign keys to ignore on import. Default none. */
  skip?: readonly KeyPattern[];
  /** See {@link WeightConverter.posEmbedResample}. Default timm's `checkpoint_filter_fn` resampling. */
  posEmbedResample?: ConverterResample;
}

function checkRules(where: string, rules: unknown): readonly RenameRule[] {
  if (!Array.isArray(rules)) throw new Error(`${where} must be an array of [pattern, replacement], got ${String(rules)}`);
  rules.forEach((r: unknown, i) => {
    if (
      !Array.isArray(r) ||
      r.length !== 2 ||
      !(typeof r[0] === 'string' || r[0] instanceof RegExp) ||
      typeof r[1] !== 'string' ||
      r[0] === ''
    ) {
      throw new Error(`${where}[${i}] must be [non-empty string or RegExp, string], got ${JSON.stringify(r)}`);
    }
  });
  return Object.freeze(rules.map((r: RenameRule) => Object.freeze([r[0], r[1]] as const)));
}

/**
 * Declares a converter, validating the spec (non-empty name and doc,
 * well-formed rules) and deriving the inverse of literal rename tables.
 */
export function defineConverter(spec: ConverterSpec): WeightConverter {
  if (typeof spec?.name !== 'string' || spec.name === '') {
    throw new Error(`defineConverter: name must be a non-empty string, got ${String(spec?.name)}`);
  }
  const where = `defineConverter '${spec.name}'`;
  if (typeof spec.doc !== 'string' || spec.doc.trim() === '') {
    throw new Error(`${where}: doc must say what checkpoints it converts, got ${String(spec.doc)}`);
  }
  const renames = checkRules(`${where}: renames`, spec.renames ?? []);
  let inverse: readonly RenameRule[] | null;
  if (spec.inverse === null) {
    inverse = null;
  } else if (spec.inverse !== undefined) {
    inverse = checkRules(`${where}: inverse`, spec.inverse);
  } else {
    const regex = renames.find((r) => r[0] instanceof RegExp);
    if (regex) {
      throw new Error(
        `${where}: rename ${String(regex[0])} is a RegExp, so the inverse cannot be derived; give 'inverse' ` +
          `(or inverse: null for an import-only converter)`,
      );
    }
    const empty = renames.find((r) => r[1] === '');
    if (empty) {
      throw new Error(`${where}: rename '${String(empty[0])}' -> '' cannot be inverted; give 'inverse' (or null)`);
    }
    inverse = Object.freeze(
      [...renames].reverse().map(([p, r]) => Object.freeze([r, p as string] as const)),
    );
  }
  const skip = spec.skip ?? [];
  if (!Array.isArray(skip)) throw new Error(`${where}: skip must be an array of strings or RegExps`);
  skip.forEach((p: unknown, i) => {
    if (!((typeof p === 'string' && p !== '') || p instanceof RegExp)) {
      throw new Error(`${where}: skip[${i}] must be a non-empty string or a RegExp, got ${JSON.stringify(p)}`);
    }
  });
  const r = spec.posEmbedResample ?? TIMM_RESAMPLE;
  if (
    !['bicubic', 'bilinear', 'nearest'].includes(r.mode) ||
    typeof r.antialias !== 'boolean' ||
    typeof r.alignCorners !== 'boolean' ||
    typeof r.reference !== 'string'
  ) {
    throw new Error(`${where}: posEmbedResample must be { mode, antialias, alignCorners, reference }, got ${JSON.stringify(r)}`);
  }
  return Object.freeze({
    name: spec.name,
    doc: spec.doc,
    renames,
    inverse,
    skip: Object.freeze([...skip]),
    posEmbedResample: Object.freeze({ ...r }),
  });
}

/**
 * Chains converters: a foreign key goes through the renames of each part in
 * order; export undoes them in reverse order; a key is skipped when any
 * part's skip pattern matches the original foreign key. Import-only if any
 * part is. The position-table resampling is the first part's.
 */
export function composeConverters(name: string, doc: string, ...parts: WeightConverter[]): WeightConverter {
  if (parts.length === 0) throw new Error(`composeConverters '${name}': needs at least one converter`);
  const inverses = parts.map((p) => p.inverse);
  return defineConverter({
    name,
    doc,
    renames: parts.flatMap((p) => p.renames),
    inverse: inverses.some((i) => i === null) ? null : [...inverses].reverse().flatMap((i) => i ?? []),
    skip: parts.flatMap((p) => p.skip),
    posEmbedResample: parts[0]!.posEmbedResample,
  });
}

/** Applies rename rules in order. */
export function applyRenames(key: string, rules: readonly RenameRule[]): string {
  if (typeof key !== 'string') throw new Error(`applyRenames: key must be a string, got ${describeValue(key)}`);
  if (!Array.isArray(rules)) throw new Error(`applyRenames: rules must be an array of [pattern, replacement], got ${describeValue(rules)}`);
  let k = key;
  for (const [pattern, replacement] of rules) {
    k = typeof pattern === 'string' ? k.split(pattern).join(replacement) : k.replace(pattern, replacement);
  }
  return k;
}

/** Whether a key matches a skip pattern (see {@link KeyPattern}). */
export function matchesKeyPattern(key: string, pattern: KeyPattern): boolean {
  if (typeof key !== 'string') throw new Error(`matchesKeyPattern: key must be a string, got ${describeValue(key)}`);
  if (typeof pattern !== 'string' && !(pattern instanceof RegExp)) throw new Error(`matchesKeyPattern: pattern must be a string or RegExp, got ${describeValue(pattern)}`);
  return typeof pattern === 'string' ? key.startsWith(pattern) : key.search(pattern) !== -1;
}

/** The module key for a foreign key, or `null` when the converter skips it. */
export function toModuleKey(converter: WeightConverter, foreignKey: string): string | null {
  checkConverter('toModuleKey', converter);
  if (converter.skip.some((p) => matchesKeyPattern(foreignKey, p))) return null;
  return applyRenames(foreignKey, converter.renames);
}

/** The foreign key for a module key; throws for an import-only converter. */
export function toForeignKey(converter: WeightConverter, moduleKey: string): string {
  checkConverter('toForeignKey', converter);
  if (converter.inverse === null) {
    throw new Error(`converter '${converter.name}' is import-only (no inverse renames); it cannot export '${moduleKey}'`);
  }
  return applyRenames(moduleKey, converter.inverse);
}

/** Keys unchanged, nothing skipped: the module is named like the checkpoint. */
export const identityConverter: WeightConverter = defineConverter({
  name: 'identity',
  doc: 'Keys unchanged: the checkpoint uses the module naming (e.g. a file written by saveWeights).',
});

/**
 * timm `VisionTransformer` checkpoints. The library's ViT uses timm's own
 * names, so the renames are the identity: `patch_embed.proj.{weight,bias}`
 * (Conv2d, layout converted at import), `cls_token`, `pos_embed`,
 * `blocks.N.norm1`, `blocks.N.attn.qkv`, `blocks.N.attn.proj`,
 * `blocks.N.ls1.gamma`, `blocks.N.norm2`, `blocks.N.mlp.fc1`,
 * `blocks.N.mlp.fc2`, `blocks.N.ls2.gamma`, `norm`. A classifier checkpoint
 * also holds `head.*` (and maybe `fc_norm.*`): load those into an encoder with
 * `composeConverters(..., timmVit, defineConverter({ ..., skip: ['head.'] }))`
 * or `strict: false`. A checkpoint made at another image size loads with
 * `resizePosEmbed: true`: `pos_embed` is resized as timm's
 * `checkpoint_filter_fn` does (bicubic, `antialias=True`).
 */
export const timmVit: WeightConverter = defineConverter({
  name: 'timm-vit',
  doc:
    'timm VisionTransformer state_dict (patch_embed.proj, cls_token, pos_embed, blocks.N.{norm1,attn.qkv,' +
    'attn.proj,ls1.gamma,norm2,mlp.fc1,mlp.fc2,ls2.gamma}, norm): identical names, layouts converted at import.',
});

function checkConverter(fn: string, converter: unknown): void {
  const c = converter as Partial<WeightConverter> | null;
  if (c === null || typeof c !== 'object' || !Array.isArray(c.renames) || !Array.isArray(c.skip)) {
    throw new Error(`${fn}: converter must be a WeightConverter (see defineConverter), got ${describeValue(converter)}`);
  }
}
