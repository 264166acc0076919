/**
 * The pthread worker of tfjs-backend-wasm's threaded build, as a file Node's
 * worker_threads can start (loaded by examples/lib/wasm-threads.ts, not part
 * of the library).
 *
 * tfjs 4.22 hands Emscripten the worker as a `blob:` URL and the main script
 * as a Blob; Node's `new Worker()` wants a file path, and the Blob's text is
 * the factory function cut out of tfjs's Node bundle, which names that
 * bundle's private variables (`require$$0`, `commonjsGlobal`) and cannot run
 * on its own. This file runs tfjs's own worker code unchanged and, on its
 * `load` message, points it at the standalone Emscripten glue that tfjs ships
 * next to it (wasm-out/tfjs-backend-wasm-threaded-simd.js, the same build the
 * bundle inlines), which a worker can evaluate.
 */
'use strict';
const { parentPort } = require('node:worker_threads');

const pkg = '@tensorflow/tfjs-backend-wasm/wasm-out/';
const glue = require.resolve(pkg + 'tfjs-backend-wasm-threaded-simd.js');
const { wasmWorkerContents } = require(pkg + 'tfjs-backend-wasm-threaded-simd.worker.js');

// tfjs's worker code subscribes once with parentPort.on('message', ...):
// hand it the glue's path where the main thread sent a Blob.
const on = parentPort.on.bind(parentPort);
parentPort.on = (event, listener) =>
  on(event, event !== 'message' ? listener : (data) => {
    if (data !== null && typeof data === 'object' && data.cmd === 'load' && typeof data.urlOrBlob !== 'string') {
      data.urlOrBlob = glue;
    }
    listener(data);
  });

// tfjs escapes newlines the same way before making its Blob.
new Function('require', '__filename', wasmWorkerContents.replace(/\n/g, '\\n'))(require, __filename);
