/**
 * Readers of a case's `config` (the reference's own hyperparameter names),
 * shared by the kinds. Bound to a kind name so every error says which kind,
 * which key, the value and what was expected.
 */
export interface ConfigReader {
  /** A required finite number. */
  num(cfg: Record<string, unknown>, key: string): number;
  /** A required integer, or `fallback` when the key is absent. */
  int(cfg: Record<string, unknown>, key: string, fallback?: number): number;
  /** A boolean, or the reference's default `fallback` when absent or null. */
  flag(cfg: Record<string, unknown>, key: string, fallback: boolean): boolean;
  /** LayerNorm eps from a `norm_layer` string like `LayerNorm(eps=1e-6)`; 1e-6 when absent. */
  normEps(normLayer: unknown): number;
  /** `[H, W]` of the input image, checked against `config.img_size` (number or pair) when given. */
  imageSize(cfg: Record<string, unknown>, h: number, w: number): [number, number];
}

export function configReader(kind: string): ConfigReader {
  const fail = (key: string, v: unknown, expected: string): never => {
    throw new Error(`${kind}: config.${key} must be ${expected}, got ${JSON.stringify(v)}`);
  };
  return {
    num(cfg, key) {
      const v = cfg[key];
      return typeof v === 'number' && Number.isFinite(v) ? v : fail(key, v, 'a number');
    },
    int(cfg, key, fallback) {
      const v = cfg[key] ?? fallback;
      return typeof v === 'number' && Number.isInteger(v) ? v : fail(key, v, 'an integer');
    },
    flag(cfg, key, fallback) {
      const v = cfg[key];
      if (v === undefined || v === null) return fallback;
      return typeof v === 'boolean' ? v : fail(key, v, 'a boolean');
    },
    normEps(normLayer) {
      if (normLayer == null) return 1e-6;
      const m = /eps\s*=\s*([0-9.eE+-]+)/.exec(String(normLayer));
      return /^LayerNorm/.test(String(normLayer)) && m ? Number(m[1]) : fail('norm_layer', normLayer, 'LayerNorm(eps=...)');
    },
    imageSize(cfg, h, w) {
      const s = cfg.img_size;
      if (s !== undefined) {
        const pair = typeof s === 'number' ? [s, s] : Array.isArray(s) && s.length === 2 ? s : null;
        if (pair === null || pair[0] !== h || pair[1] !== w) {
          throw new Error(`${kind}: config.img_size ${JSON.stringify(s)} does not match the input image ${h}x${w}`);
        }
      }
      return [h, w];
    },
  };
}
