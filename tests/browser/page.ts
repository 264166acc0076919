/**
 * The browser test page (bundled by `run.ts` with esbuild): on the backend
 * named in the query string (`?backend=webgl&f16=1`, `?backend=wasm&threads=1`)
 * it runs a few in-repo conformance cases against their PyTorch references
 * and a few MAE and CLIP training steps with `trainStepAsync` (what a page
 * must use: no synchronous read back), then publishes a JSON report as
 * `window.__mimkitReport` for the Playwright driver.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { AdamW, CLIP, MAE, clampLogitScale, halfPrecisionBackend, parseSafetensors, trainStepAsync } from '../../src/index.js';
import { makeCase } from '../conformance/case.js';
import type { KindRunner } from '../conformance/types.js';
import { run as beitMim } from '../conformance/kinds/beit_mim.js';
import { run as mae } from '../conformance/kinds/mae.js';
import { run as simmim } from '../conformance/kinds/simmim.js';

const KINDS: Record<string, KindRunner> = { mae, simmim, beit_mim: beitMim };

/** What the page reports. */
export interface PageReport {
  backend: string;
  /** Backend details: float precision, WASM threads, cross-origin isolation. */
  info: Record<string, unknown>;
  conformance: { name: string; passed: boolean; maxAbsErr: number; reason?: string }[];
  /** Loss of each MAE training step, and the tensor count after it. */
  losses: number[];
  counts: number[];
  /** Per weight, the sum of its gradient times a fixed pattern at the initial weights (before any update), and (`name|l1`) the gradient's L1 norm. */
  gradChecks: Record<string, number>;
  /** A checksum of the weights after training: sum and sum of squares. */
  weightSum: number;
  weightSumSq: number;
  /** The same for a few CLIP steps (image and causal text towers, contrastive loss, logit-scale clamp). */
  clip: { losses: number[]; counts: number[]; weightSum: number; weightSumSq: number };
  error?: string;
}

async function runCase(name: string, buf: ArrayBuffer): Promise<PageReport['conformance'][number]> {
  let maxAbsErr = 0;
  tf.engine().startScope();
  const varsBefore = new Set(Object.keys(tf.engine().registeredVariables));
  try {
    const file = parseSafetensors(new Uint8Array(buf));
    const c = makeCase(name, file);
    const kind = KINDS[c.kind];
    if (!kind) throw new Error(`no kind '${c.kind}' on the page`);
    const atol = Number(file.metadata['atol']);
    const rtol = Number(file.metadata['rtol']);
    const outputs = await kind(c);
    for (const exp of file.names().filter((n) => n.startsWith('expect.'))) {
      const got = outputs[exp.slice('expect.'.length)];
      if (!got) throw new Error(`missing output ${exp}`);
      const info = file.info(exp);
      if (info.dtype !== 'F32') {
        const want = file.int32(exp);
        const g = await got.data();
        for (let i = 0; i < want.length; i++) if (g[i] !== want[i]) throw new Error(`${exp}[${i}]: got ${g[i]}, want ${want[i]}`);
        continue;
      }
      const want = file.float32(exp);
      const g = await got.data();
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(g[i]! - want[i]!);
        if (!(err <= atol + rtol * Math.abs(want[i]!))) throw new Error(`${exp}[${i}]: got ${g[i]}, want ${want[i]} (atol ${atol}, rtol ${rtol})`);
        maxAbsErr = Math.max(maxAbsErr, err);
      }
    }
    return { name, passed: true, maxAbsErr };
  } catch (e) {
    return { name, passed: false, maxAbsErr, reason: e instanceof Error ? e.message : String(e) };
  } finally {
    tf.engine().endScope();
    const vars = tf.engine().registeredVariables;
    for (const k of Object.keys(vars)) if (!varsBefore.has(k)) vars[k]!.dispose();
  }
}

/** A few MAE steps on fixed images and fixed masking noise. */
async function train(steps: number, clip: boolean): Promise<Pick<PageReport, 'losses' | 'counts' | 'weightSum' | 'weightSumSq' | 'gradChecks'>> {
  const model = new MAE({
    imgSize: 16, patchSize: 4, embedDim: 32, depth: 2, numHeads: 2,
    decoderEmbedDim: 16, decoderDepth: 1, decoderNumHeads: 2, mlpRatio: 2, seed: 5, maskRatio: 0.75,
  });
  const opt = new AdamW(model, { lr: 1e-3, betas: [0.9, 0.95], weightDecay: 0.05 });
  const b = 4;
  // Inputs computed here (a GPU's sin of large arguments is not cpu's); the
  // noise as an array, so masking reads nothing back from the device.
  const x = tf.tensor4d(Float32Array.from({ length: b * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37)), [b, 16, 16, 3]);
  const noise = Float32Array.from({ length: b * 16 }, (_, i) => Math.cos(i * 1.3));
  const losses: number[] = [];
  const counts: number[] = [];
  const gradChecks: Record<string, number> = {};
  try {
    const named = model.namedWeights();
    const vars = [...named.values()].map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => model.forward(x, { noise }).loss, vars);
    const names = [...named.keys()];
    for (let i = 0; i < vars.length; i++) {
      const g = grads[vars[i]!.name];
      if (!g) continue; // a fixed (non-trainable) table
      const pattern = tf.tidy(() => tf.sin(tf.mul(tf.range(0, g.size), 0.1)));
      const c = tf.tidy(() => tf.sum(tf.mul(tf.reshape(g, [-1]), pattern)));
      const l1 = tf.tidy(() => tf.sum(tf.abs(g)));
      gradChecks[names[i]!] = (await c.data())[0]!;
      gradChecks[`${names[i]!}|l1`] = (await l1.data())[0]!;
      tf.dispose([c, pattern, l1]);
    }
    value.dispose();
    tf.dispose(Object.values(grads).filter((g) => g));
    for (let i = 0; i < steps; i++) {
      const r = await trainStepAsync(() => model.forward(x, { noise }).loss, model, opt, clip ? { clipNorm: 1 } : {});
      losses.push(r.loss);
      counts.push(tf.memory().numTensors);
    }
    return { losses, counts, gradChecks, ...(await checksum(model)) };
  } finally {
    x.dispose();
    opt.dispose();
    model.dispose();
  }
}

/** Sum and sum of squares of every weight of `model`, read asynchronously. */
async function checksum(model: { namedWeights(): Map<string, { read(): tf.Tensor }> }): Promise<{ weightSum: number; weightSumSq: number }> {
  let weightSum = 0;
  let weightSumSq = 0;
  for (const w of model.namedWeights().values()) {
    const d = await w.read().data();
    for (let i = 0; i < d.length; i++) {
      weightSum += d[i]!;
      weightSumSq += d[i]! * d[i]!;
    }
  }
  return { weightSum, weightSumSq };
}

/** A few CLIP steps on fixed image-text pairs (padded texts: the causal and padding masks together). */
async function trainClip(steps: number): Promise<PageReport['clip']> {
  const model = new CLIP({
    embedDim: 16,
    vision: { imageSize: 16, patchSize: 4, width: 32, layers: 2, headWidth: 16 },
    text: { contextLength: 8, vocabSize: 50, width: 32, heads: 2, layers: 2 },
    seed: 3,
  });
  const opt = new AdamW(model, { lr: 1e-3, betas: [0.9, 0.98], weightDecay: 0.1 });
  const b = 4;
  const x = tf.tensor4d(Float32Array.from({ length: b * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.29)), [b, 16, 16, 3]);
  // Texts of 8, 6, 5 and 3 tokens ending with the end-of-text id 49 (the largest: argmax pooling), then padding 0.
  const lengths = [8, 6, 5, 3];
  const idsData = new Int32Array(b * 8);
  const padData = new Int32Array(b * 8);
  lengths.forEach((n, r) => {
    for (let j = 0; j < 8; j++) {
      idsData[r * 8 + j] = j < n - 1 ? 1 + ((r * 7 + j * 3) % 47) : j === n - 1 ? 49 : 0;
      padData[r * 8 + j] = j < n ? 0 : 1;
    }
  });
  const ids = tf.tensor2d(idsData, [b, 8], 'int32');
  const padding = tf.tensor2d(padData, [b, 8], 'int32');
  const losses: number[] = [];
  const counts: number[] = [];
  try {
    for (let i = 0; i < steps; i++) {
      const r = await trainStepAsync(() => model.loss(x, ids, { text: { padding } }), model, opt, { clipNorm: 1 });
      clampLogitScale(model.logitScale);
      losses.push(r.loss);
      counts.push(tf.memory().numTensors);
    }
    return { losses, counts, ...(await checksum(model)) };
  } finally {
    tf.dispose([x, ids, padding]);
    opt.dispose();
    model.dispose();
  }
}

async function main(): Promise<PageReport> {
  const q = new URLSearchParams(location.search);
  const backend = q.get('backend') ?? 'cpu';
  const report: PageReport = {
    backend, info: {}, conformance: [], losses: [], counts: [], weightSum: NaN, weightSumSq: NaN, gradChecks: {},
    clip: { losses: [], counts: [], weightSum: NaN, weightSumSq: NaN },
  };
  try {
    if (q.get('f16') === '1') tf.env().set('WEBGL_FORCE_F16_TEXTURES', true);
    if (backend === 'wasm') {
      setWasmPaths('/wasm/');
      if (q.get('threads') !== '1') tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      else setThreadsCount(2);
    }
    if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
    await tf.ready();
    report.info = {
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      floatPrecision: (tf.backend() as unknown as { floatPrecision(): number }).floatPrecision(),
      halfPrecision: halfPrecisionBackend(),
      ...(backend === 'wasm'
        ? { threads: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'), simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT') }
        : {}),
      ...(backend === 'webgl' ? { renderer: webglRenderer() } : {}),
    };
    const all = (await (await fetch('/cases/index.json')).json()) as string[];
    const pick = q.get('cases');
    const names = pick === null ? all : all.filter((n) => pick.split(',').includes(n));
    for (const n of names) {
      const buf = await (await fetch(`/cases/${n}.safetensors`)).arrayBuffer();
      report.conformance.push(await runCase(n, buf));
    }
    Object.assign(report, await train(Number(q.get('steps') ?? 3), q.get('clip') !== '0'));
    report.clip = await trainClip(Number(q.get('clipSteps') ?? 3));
  } catch (e) {
    report.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  }
  return report;
}

function webglRenderer(): string {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return 'none';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(ext ? gl.getParameter(ext.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
}

void main().then((r) => {
  (globalThis as unknown as { __mimkitReport: PageReport }).__mimkitReport = r;
});
