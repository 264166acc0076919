/**
 * MAE (He et al. 2022, "Masked Autoencoders Are Scalable Vision Learners"),
 * the minimal loop: 75% random masking, an encoder that sees only the visible
 * patches, a light decoder with mask tokens, MSE on per-patch normalised
 * pixels of the removed patches. The full demo (held-out loss per epoch,
 * reconstructions, k-NN probe) is examples/mae-fashion-mnist.ts.
 *
 * Simplified: a tiny model (1 channel, 32 px, patch 4, encoder D 64 x 3
 * blocks, decoder 32 x 1 block) trained for a few steps at a constant
 * learning rate.
 *
 *     npx tsx examples/recipes/mae.ts [--steps 40] [--backend cpu|wasm]
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { AdamW, MAE, Rng, trainStep } from '../../src/index.js';
import { fashionMnist, lossValue, recipeSetup, sampleBatch, trainLoop } from './common.js';

const flags = await recipeSetup('MAE', { steps: 40, batch: 32, lr: 1.5e-3 });
const train = await fashionMnist('train', flags.trainSize);
const heldOut = await fashionMnist('test', flags.batch);

const mae = new MAE({
  imgSize: 32, patchSize: 4, inChans: 1, embedDim: 64, depth: 3, numHeads: 4,
  decoderEmbedDim: 32, decoderDepth: 1, decoderNumHeads: 4,
  maskRatio: 0.75, target: 'normPixels', seed: flags.seed,
});
// AdamW with MAE's betas; matrices decay, biases/norms/tokens/position tables do not.
const opt = new AdamW(mae, { lr: flags.lr, betas: [0.9, 0.95], weightDecay: 0.05 });
const rng = new Rng(flags.seed); // one stream: a fresh mask and batch every step

trainLoop(
  'mae',
  flags.steps,
  // The same held-out images under the same masks (seed 1) before and after.
  () => lossValue(() => mae.forward(heldOut.images, { seed: 1 }).loss),
  () => {
    const { x } = sampleBatch(train, flags.batch, rng);
    const { loss } = trainStep(() => mae.forward(x, { rng, training: true }).loss, mae, opt);
    x.dispose();
    return loss;
  },
);
