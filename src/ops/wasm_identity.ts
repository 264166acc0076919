import * as tf from '@tensorflow/tfjs-core';

/**
 * tfjs-wasm's `Identity` kernel copies its input into new heap memory. tfjs's
 * engine runs `Identity` (through `engine.clone`) for every tensor a kernel
 * or a `customGrad` saves for the backward pass, so on WASM a training step
 * copied each saved activation once more: about 970 copies and 0.1 s per MAE
 * tiny-32 step at batch 64, and that much more heap. The cpu and WebGL
 * backends share the memory instead (their Identity increments a reference
 * count), and tfjs-wasm's own `Reshape` already does so.
 *
 * {@link shareWasmIdentity} replaces the WASM `Identity` kernel by one that
 * shares the input's memory with a reference count, like `Reshape`. Tensors
 * are immutable and no tfjs-wasm kernel writes into its inputs, so values
 * are unchanged; only the copy goes. String tensors keep the stock kernel.
 */
let stock: tf.KernelConfig | undefined;

const shared: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: (args) => {
    const x = args.inputs['x'] as tf.TensorInfo;
    if (x.dtype === 'string') return stock!.kernelFunc(args);
    (args.backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  },
};

/**
 * Installs the sharing `Identity` for the WASM backend (see above) when WASM
 * is the active backend and its stock kernel is registered; otherwise does
 * nothing. Idempotent; `trainStep` and `trainStepAsync` call it, so only a
 * training loop of your own around `tf.variableGrads` needs to call it (once,
 * after `tf.setBackend('wasm')`). It changes no value, only memory and time.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MAE, maeMicro, shareWasmIdentity } from 'mimkit';
 * await tf.setBackend('wasm');
 * shareWasmIdentity();
 * const model = new MAE(maeMicro);
 * const x = tf.randomUniform([2, 32, 32, 3]);
 * const { value, grads } = tf.variableGrads(() => model.forward(x).loss);
 * ```
 */
export function shareWasmIdentity(): void {
  if (tf.getBackend() !== 'wasm') return;
  const current = tf.getKernel('Identity', 'wasm');
  if (current === undefined || current === shared) return;
  stock = current;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(shared);
}
