import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { linear, matMul } from '../ops/matmul.js';
import { LayerNorm } from './layer_norm.js';
import { Linear } from './linear.js';
import { Module, type Weight } from './module.js';

/** Config of {@link AttentionalPooler}. */
export interface AttentionalPoolerConfig {
  /** Query / output width `E` (open_clip `d_model`, the CLIP `embed_dim`). */
  dim: number;
  /** Width `W` of the tokens pooled (open_clip `context_dim`). Default `dim`. */
  contextDim?: number;
  /** Attention heads; must divide `dim`. Default 8 (open_clip `attn_pooler_heads`). */
  numHeads?: number;
  /** Number of learned queries. Default 256 (open_clip `attn_pooler_queries`). */
  numQueries?: number;
  /** LayerNorm epsilon of `ln_q` and `ln_k`. Default 1e-5 (PyTorch's default). */
  normEps?: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
  /** Layer name. */
  name?: string;
}

/**
 * Attentional pooling (Lee et al. 2019, "Set Transformer"; as used by CoCa,
 * Yu et al. 2022; open_clip `AttentionalPooler`): `numQueries` learned
 * queries cross-attend to the tokens:
 * `kv = ln_k(x)`, `q = ln_q(query)`, multi-head attention with
 * `Q = q Wq^T + bq`, `K = kv Wk^T + bk`, `V = kv Wv^T + bv`, heads merged,
 * `out_proj` -> `[B, numQueries, E]`.
 *
 * Weights (open_clip names, as `torch.nn.MultiheadAttention` names them):
 * `query` `[nq, E]`, `ln_q` (over `E`), `ln_k` (over `W`),
 * `attn.in_proj_weight` `[3E, E]` when `W == E`, else
 * `attn.q_proj_weight` `[E, E]`, `attn.k_proj_weight` and
 * `attn.v_proj_weight` `[E, W]`; `attn.in_proj_bias` `[3E]` (q | k | v);
 * `attn.out_proj` (Linear `E -> E`). Init as open_clip: query `N(0, 1)`,
 * projections xavier-uniform, biases zero.
 *
 * Shapes: `x: [B, N, W]` -> `[B, numQueries, E]`.
 */
export class AttentionalPooler extends Module {
  static readonly className = 'MimkitAttentionalPooler';
  /** Resolved config. */
  readonly config: { dim: number; contextDim: number; numHeads: number; numQueries: number; normEps: number; seed: number };
  /** `query` `[nq, E]`. */
  readonly query: Weight;
  /** `ln_q`. */
  readonly lnQ: LayerNorm;
  /** `ln_k`. */
  readonly lnK: LayerNorm;
  /** `attn.in_proj_weight` `[3E, E]` (stored `[E, 3E]`) when `W == E`, else null. */
  readonly inProjWeight: Weight | null;
  /** `attn.q_proj_weight`, `attn.k_proj_weight`, `attn.v_proj_weight` when `W != E`, else null. */
  readonly qkvProjWeights: [Weight, Weight, Weight] | null;
  /** `attn.in_proj_bias` `[3E]`. */
  readonly inProjBias: Weight;
  /** `attn.out_proj`. */
  readonly outProj: Linear;

  constructor(config: AttentionalPoolerConfig) {
    super({ name: config.name, seed: config.seed });
    const c = {
      dim: config.dim,
      contextDim: config.contextDim ?? config.dim,
      numHeads: config.numHeads ?? 8,
      numQueries: config.numQueries ?? 256,
      normEps: config.normEps ?? 1e-5,
      seed: config.seed ?? 0,
    };
    for (const k of ['dim', 'contextDim', 'numHeads', 'numQueries'] as const) {
      if (!Number.isInteger(c[k]) || c[k] <= 0) throw new Error(`AttentionalPooler: ${k} must be a positive integer, got ${c[k]}`);
    }
    if (c.dim % c.numHeads !== 0) throw new Error(`AttentionalPooler: dim ${c.dim} is not divisible by numHeads ${c.numHeads}`);
    this.config = c;
    const { dim: E, contextDim: W } = c;
    this.query = this.addParam('query', [c.numQueries, E], { kind: 'normal', std: 1 });
    this.lnQ = this.addModule('ln_q', new LayerNorm({ dim: E, eps: c.normEps }));
    this.lnK = this.addModule('ln_k', new LayerNorm({ dim: W, eps: c.normEps }));
    const lin = { layout: { kind: 'linear' as const } };
    if (W === E) {
      this.inProjWeight = this.addParam('attn.in_proj_weight', [E, 3 * E], { kind: 'xavierUniform', fanIn: E, fanOut: 3 * E }, lin);
      this.qkvProjWeights = null;
    } else {
      this.inProjWeight = null;
      this.qkvProjWeights = [
        this.addParam('attn.q_proj_weight', [E, E], { kind: 'xavierUniform', fanIn: E, fanOut: E }, lin),
        this.addParam('attn.k_proj_weight', [W, E], { kind: 'xavierUniform', fanIn: W, fanOut: E }, lin),
        this.addParam('attn.v_proj_weight', [W, E], { kind: 'xavierUniform', fanIn: W, fanOut: E }, lin),
      ];
    }
    this.inProjBias = this.addParam('attn.in_proj_bias', [3 * E], { kind: 'zeros' });
    this.outProj = this.addModule('attn.out_proj', new Linear({ inFeatures: E, outFeatures: E, seed: this.childSeed('attn.out_proj') }));
  }

  /** `x: [B, N, W]` -> `[B, numQueries, E]`. */
  forward(x: tf.Tensor): tf.Tensor3D {
    const { dim: E, contextDim: W, numHeads: h, numQueries: nq } = this.config;
    if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[2] !== W) {
      throw new Error(`AttentionalPooler: x must be [B, N, contextDim=${W}], got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : String(x)}`);
    }
    const [b, n] = x.shape as [number, number, number];
    const d = E / h;
    return tf.tidy(() => {
      const kv = this.lnK.forward(x);
      const q = this.lnQ.forward(this.query.read());
      const [wq, wk, wv] = this.inProjWeight ? tf.split(this.inProjWeight.read(), 3, 1) : this.qkvProjWeights!.map((w) => w.read());
      const [bq, bk, bv] = tf.split(this.inProjBias.read(), 3);
      const Q = linear(q, wq!, bq); // [nq, E]
      const K = linear(kv, wk!, bk); // [B, N, E]
      const V = linear(kv, wv!, bv);
      const qh = tf.tile(tf.reshape(tf.transpose(tf.reshape(tf.mul(Q, d ** -0.5), [nq, h, d]), [1, 0, 2]), [1, h, nq, d]), [b, 1, 1, 1]);
      const kh = tf.transpose(tf.reshape(K, [b, n, h, d]), [0, 2, 1, 3]);
      const vh = tf.transpose(tf.reshape(V, [b, n, h, d]), [0, 2, 1, 3]);
      const logits = matMul(tf.reshape(qh, [b * h, nq, d]), tf.reshape(kh, [b * h, n, d]), false, true);
      const o = matMul(tf.softmax(logits, -1), tf.reshape(vh, [b * h, n, d]));
      const merged = tf.reshape(tf.transpose(tf.reshape(o, [b, h, nq, d]), [0, 2, 1, 3]), [b, nq, E]);
      return this.outProj.forward(merged) as tf.Tensor3D;
    });
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.forward(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config };
  }
}
serialization.registerClass(AttentionalPooler);
