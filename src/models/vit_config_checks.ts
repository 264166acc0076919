import {
  CONFIG_LIMITS,
  checkConfigObject,
  checkSize2d,
  checkTransformerStack,
  optionalBool,
  optionalNumber,
  optionalOneOf,
  orDefault,
  requireInt,
  requireNumber,
} from '../utils/config.js';

/** Defaults of the backbone fields that differ between models. */
export interface VitBackboneDefaults {
  embedDim: number;
  depth: number;
  numHeads: number;
  qkvBias: 'qkv' | 'none' | 'qv';
}

/**
 * Validates the {@link VitBackboneConfig} fields of a ViT-form model's RAW
 * config (before defaults), under the names the user passed, before anything
 * is built: the object itself, `imgSize`, `patchSize` (dividing `imgSize`),
 * `inChans`, the stack's sizes and parameter budget
 * ({@link checkTransformerStack}), `qkvBias`, `normEps`. Also the optional
 * ViT fields when present (`initValues`, `layerScaleNaming`, `classToken`,
 * `posEmbed`, `dropPathRate`, `useRelPosBias`, `useSharedRelPosBias`).
 * `seed` and `name` are checked by {@link Module}'s constructor.
 */
export function checkVitBackboneConfig(where: string, config: unknown, defaults: VitBackboneDefaults): void {
  const c = checkConfigObject(where, config as Record<string, unknown> | undefined) as Record<string, unknown>;
  const img = checkSize2d(where, 'imgSize', orDefault(c['imgSize'], 224));
  const p = requireInt(where, 'patchSize', orDefault(c['patchSize'], 16), { min: 1, max: CONFIG_LIMITS.maxPatchSize });
  if (img[0] % p !== 0 || img[1] % p !== 0) {
    throw new Error(`${where}: imgSize ${img[0]}x${img[1]} is not divisible by patchSize ${p}`);
  }
  const inChans = requireInt(where, 'inChans', orDefault(c['inChans'], 3), { min: 1, max: CONFIG_LIMITS.maxChannels });
  const numPatches = (img[0] / p) * (img[1] / p);
  const embedDim = orDefault(c['embedDim'], defaults.embedDim);
  checkTransformerStack(where, {
    dim: ['embedDim', embedDim],
    depth: ['depth', orDefault(c['depth'], defaults.depth)],
    numHeads: ['numHeads', orDefault(c['numHeads'], defaults.numHeads)],
    mlpRatio: ['mlpRatio', orDefault(c['mlpRatio'], 4)],
    extraParams: (numPatches + 1 + p * p * inChans) * (embedDim as number),
  });
  optionalOneOf(where, 'qkvBias', c['qkvBias'], defaults.qkvBias, ['qkv', 'none', 'qv'] as const);
  optionalNumber(where, 'normEps', c['normEps'], 1e-6, { min: 0, minExclusive: true });
  if (c['initValues'] !== undefined && c['initValues'] !== null) {
    requireNumber(where, 'initValues', c['initValues']);
  }
  optionalOneOf(where, 'layerScaleNaming', c['layerScaleNaming'], 'timm', ['timm', 'beit'] as const);
  optionalBool(where, 'classToken', c['classToken'], true);
  optionalOneOf(where, 'checkpointing', c['checkpointing'], 'auto', [true, false, 'auto'] as const);
  optionalOneOf(where, 'posEmbed', c['posEmbed'], 'learned', ['learned', 'sincos', 'sincosRowFirst', 'none'] as const);
  optionalNumber(where, 'dropPathRate', c['dropPathRate'], 0, { min: 0, max: 1 });
  for (const k of ['useRelPosBias', 'useSharedRelPosBias', 'useAbsPosEmb']) optionalBool(where, k, c[k], false);
}
