import * as tf from '@tensorflow/tfjs-core';
import { serialization } from '@tensorflow/tfjs-core';
import { DINOHead } from '../heads/dino_head.js';
import { Module } from '../layers/module.js';
import { DINOLoss } from '../losses/dino.js';
import { stopGradient } from '../losses/stop_gradient.js';
import { EMA } from '../train/ema.js';
import { namedTrainableVariables, namedVariables } from '../train/param_groups.js';
import { cosineMomentum } from '../train/schedules.js';
import { deriveSeed } from '../utils/random.js';
import { VisionTransformer, type VitBackboneConfig, type VitFeatures, type VitForwardOptions } from './vit.js';
import { checkConfigObject, requireConfig } from '../utils/config.js';

/**
 * Config of {@link DINO}: the backbone's {@link VitBackboneConfig} (DINO's
 * defaults: ViT-S/16 at 224 px, `main_dino.py`'s default `--arch vit_small`:
 * `embedDim` 384, `depth` 12, `numHeads` 6, qkv bias, LayerNorm eps 1e-6),
 * the head, the loss and the schedules. Every other default is the paper's
 * (Caron et al. 2021, section 3 and appendix; `main_dino.py`'s argument in
 * brackets).
 */
export interface DINOConfig extends VitBackboneConfig {
  /** Stochastic depth of the student's blocks (`drop_path_rate`); the teacher has none. Default 0.1. */
  dropPathRate?: number;
  /** Prototypes `K` of the head (`out_dim`). Default 65536. */
  outDim?: number;
  /** Linear layers of the head's MLP (`nlayers` of `DINOHead`). Default 3. */
  headLayers?: number;
  /** Hidden width of the head's MLP. Default 2048. */
  headHiddenDim?: number;
  /** Bottleneck width of the head. Default 256. */
  headBottleneckDim?: number;
  /**
   * Fix the weight norm of the head's last layer at 1 (`norm_last_layer`).
   * Default `true`; the best ViT-S runs of the paper train it (`false`),
   * which dino's README calls safe only for ViT-S.
   */
  normLastLayer?: boolean;
  /**
   * Local crops per image (`local_crops_number`): the student sees
   * `2 + localCropsNumber` crops, the teacher the 2 global ones. Default 8.
   */
  localCropsNumber?: number;
  /** Training length in epochs (`epochs`): the length of the teacher-temperature schedule. Default 100. */
  epochs?: number;
  /** Teacher temperature at epoch 0 (`warmup_teacher_temp`). Default 0.04. */
  warmupTeacherTemp?: number;
  /** Teacher temperature after the warm-up (`teacher_temp`). Default 0.07 (the paper's; main_dino.py's flag defaults to 0.04). */
  teacherTemp?: number;
  /** Epochs of the linear teacher-temperature warm-up (`warmup_teacher_temp_epochs`). Default 30 (the paper's). */
  warmupTeacherTempEpochs?: number;
  /** Student temperature. Default 0.1. */
  studentTemp?: number;
  /** EMA momentum of the loss's center. Default 0.9. */
  centerMomentum?: number;
  /** Base EMA momentum of the teacher, raised to 1 with a cosine schedule (`momentum_teacher`). Default 0.996. */
  momentumTeacher?: number;
  /**
   * Epochs during which the head's last layer gets no update
   * (`freeze_last_layer`, "helps training" at the start). Default 1.
   */
  freezeLastLayer?: number;
}

/** The config with every default filled in and the image size as `[height, width]`. */
export type ResolvedDINOConfig = Required<Omit<DINOConfig, 'name' | 'imgSize'>> & { imgSize: [number, number] };

/** Config of {@link MultiCropWrapper}. */
export interface MultiCropWrapperConfig {
  /** The backbone; its class token is the feature (its position table is resized to other crop sizes). */
  backbone: VisionTransformer;
  /** The head on the backbone's features. */
  head: DINOHead;
  /**
   * Seed of the wrapper. It has no weights of its own; parts built without a
   * seed are drawn from it and their key (`backbone`, `head`), as every
   * module's parts are. Default 0.
   */
  seed?: number;
  name?: string;
}

/** Options of the forward methods of {@link MultiCropWrapper} and {@link DINO}. */
export type DinoForwardOptions = Pick<VitForwardOptions, 'training' | 'rng'>;

/**
 * A backbone and a head over a list of crops of several resolutions
 * (dino's `utils.MultiCropWrapper`): consecutive crops of the same size are
 * concatenated and go through the backbone in one pass (DINO's global crops
 * together, then the local ones), the class-token features of every pass are
 * concatenated in crop order and the head runs once on all of them.
 *
 * Weights (dino's names): `backbone.*` (timm/dino `VisionTransformer`
 * names), `head.*` ({@link DINOHead}).
 */
export class MultiCropWrapper extends Module {
  static readonly className = 'MimkitMultiCropWrapper';
  readonly backbone: VisionTransformer;
  readonly head: DINOHead;

  constructor(config: MultiCropWrapperConfig) {
    super({ name: requireConfig('MultiCropWrapper', config).name, seed: config.seed });
    if (!(config.backbone instanceof VisionTransformer)) throw new Error('MultiCropWrapper: backbone must be a VisionTransformer');
    if (!(config.head instanceof DINOHead)) throw new Error('MultiCropWrapper: head must be a DINOHead');
    if (config.backbone.numPrefixTokens !== 1) throw new Error('MultiCropWrapper: the backbone needs a class token (classToken: true)');
    if (config.head.config.inDim !== config.backbone.config.embedDim) {
      throw new Error(
        `MultiCropWrapper: head.inDim ${config.head.config.inDim} must equal the backbone's embedDim ${config.backbone.config.embedDim}`,
      );
    }
    this.backbone = this.addModule('backbone', config.backbone);
    this.head = this.addModule('head', config.head);
  }

  /**
   * Checks a list of crops before any tensor work: a non-empty array of
   * rank-4 float tensors `[B, H, W, C]` with the same `B` and `C`, sides
   * multiples of the patch size. Returns `B`.
   */
  checkCrops(fn: string, crops: unknown): number {
    if (!Array.isArray(crops) || crops.length === 0) {
      throw new Error(`${fn}: crops must be a non-empty array of [B, H, W, C] tensors, got ${Array.isArray(crops) ? 'an empty array' : typeof crops}`);
    }
    const { patchSize: p, inChans } = this.backbone.config;
    let b = -1;
    crops.forEach((x: unknown, i) => {
      if (!(x instanceof tf.Tensor) || x.rank !== 4) {
        throw new Error(`${fn}: crops[${i}] must be a rank-4 tensor [B, H, W, C] (NHWC), got ${x instanceof tf.Tensor ? `shape [${x.shape}]` : typeof x}`);
      }
      const [n, h, w, c] = x.shape as [number, number, number, number];
      if (x.dtype !== 'float32') throw new Error(`${fn}: crops[${i}] must be float32, got ${x.dtype}`);
      if (c !== inChans) throw new Error(`${fn}: crops[${i}] has ${c} channels (shape [${x.shape}]), the backbone expects inChans=${inChans}`);
      if (h % p !== 0 || w % p !== 0 || h === 0 || w === 0) {
        throw new Error(`${fn}: crops[${i}] is ${h}x${w} px, but crop sides must be positive multiples of the patch size ${p}`);
      }
      if (b >= 0 && n !== b) throw new Error(`${fn}: crops[${i}] has batch ${n}, but crops[0] has ${b}; every crop needs the same images`);
      b = n;
    });
    if (b === 0) throw new Error(`${fn}: crops have batch size 0`);
    return b;
  }

  /**
   * Class-token features of every crop, crop-major: `crops[v]: [B, Hv, Wv, C]`
   * -> `[V * B, D]` (rows `v*B .. v*B+B-1` are crop `v`), one backbone pass
   * per run of consecutive crops of equal size.
   */
  forwardFeatures(crops: tf.Tensor4D[], options: DinoForwardOptions = {}): tf.Tensor2D {
    this.checkCrops('MultiCropWrapper.forwardFeatures', crops);
    return tf.tidy(() => {
      const feats: tf.Tensor[] = [];
      let start = 0;
      while (start < crops.length) {
        const [, h, w] = crops[start]!.shape;
        let end = start + 1;
        while (end < crops.length && crops[end]!.shape[1] === h && crops[end]!.shape[2] === w) end++;
        const x = end - start === 1 ? crops[start]! : tf.concat(crops.slice(start, end), 0);
        const tokens = this.backbone.forwardFeatures(x, { training: options.training, rng: options.rng }).tokens;
        feats.push(tf.squeeze(tf.slice(tokens, [0, 0, 0], [-1, 1, -1]), [1]));
        start = end;
      }
      return (feats.length === 1 ? feats[0]! : tf.concat(feats, 0)) as tf.Tensor2D;
    });
  }

  /** The head on the class tokens of every crop: `crops[v]: [B, Hv, Wv, C]` -> `[V * B, K]`, crop-major. */
  forward(crops: tf.Tensor4D[], options: DinoForwardOptions = {}): tf.Tensor2D {
    const f = this.forwardFeatures(crops, options);
    try {
      return this.head.forward(f);
    } finally {
      f.dispose();
    }
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { training?: boolean } = {}): tf.Tensor {
    return this.forward((Array.isArray(inputs) ? inputs : [inputs]) as tf.Tensor4D[], { training: kwargs.training });
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.head.config.outDim];
  }
}
serialization.registerClass(MultiCropWrapper);

/** Output of {@link DINO.forward}: new tensors, the caller disposes them (`tf.dispose(out)`). */
export type DinoOutput = {
  /** Scalar DINO loss (current center; the center is not moved). */
  loss: tf.Scalar;
  /** Student head outputs `[ncrops * B, K]`, crop-major. */
  studentOutput: tf.Tensor2D;
  /** Teacher head outputs on the two global crops `[2B, K]`. */
  teacherOutput: tf.Tensor2D;
};

/** Which network's backbone {@link DINO.encode} and {@link DINO.forwardFeatures} use. */
export type DinoNetwork = 'student' | 'teacher';

/**
 * DINO (Caron et al. 2021, "Emerging Properties in Self-Supervised Vision
 * Transformers"; facebookresearch/dino `main_dino.py`): self-distillation
 * with no labels. A student ({@link MultiCropWrapper} of a ViT and a
 * {@link DINOHead}) sees every crop of an image, 2 global and
 * `localCropsNumber` local ones, at their own sizes (the position table is
 * resized bicubically inside the graph, dino's `interpolate_pos_encoding`);
 * a teacher of the same architecture, an EMA of the student (momentum
 * cosine-scheduled from `momentumTeacher` to 1), sees the global crops; the
 * student's softmax (temperature 0.1) matches the teacher's centred,
 * sharpened softmax on every other crop ({@link DINOLoss}, which holds the
 * center).
 *
 * A training step (the teacher's output is computed once, outside the
 * gradient; DINO's order: loss, center, teacher):
 *
 * ```ts
 * const t = dino.forwardTeacher(crops.slice(0, 2));
 * trainStep(() => dino.loss(dino.forwardCrops(crops, { training: true }), t, epoch),
 *   dino.studentVariables(epoch), optimizer, { clipNorm: 3 });
 * dino.updateCenter(t); t.dispose();
 * dino.updateTeacher(dino.teacherMomentum(iteration, totalIterations));
 * ```
 *
 * Weights: `student.backbone.*`, `student.head.*`, `teacher.backbone.*`,
 * `teacher.head.*` (dino's checkpoint `student` and `teacher` dicts; load one
 * with `loadWeights(dino.student, file, { converter: dinoConverter })`). The
 * teacher's weights are never trainable. The center lives in
 * {@link DINO.dinoLoss}.
 *
 * Shapes: crops NHWC `[B, H, W, C]`, sides multiples of the patch size.
 */
export class DINO extends Module {
  static readonly className = 'MimkitDINO';
  readonly config: ResolvedDINOConfig;
  /** The trained network (`student`). */
  readonly student: MultiCropWrapper;
  /** The EMA network (`teacher`), same architecture, no drop path, frozen. */
  readonly teacher: MultiCropWrapper;
  /** DINO's loss and its center (an explicit buffer). */
  readonly dinoLoss: DINOLoss;
  /** The student -> teacher EMA. */
  readonly ema: EMA;

  constructor(config: DINOConfig = {}) {
    super({ name: checkConfigObject('DINO', config).name, seed: config.seed });
    const c = resolveDinoConfig(config);
    // The loss validates its own numbers (temperatures > 0, warm-up <= epochs) before any weight exists.
    const dinoLoss = new DINOLoss({
      outDim: c.outDim,
      ncrops: 2 + c.localCropsNumber,
      warmupTeacherTemp: c.warmupTeacherTemp,
      teacherTemp: c.teacherTemp,
      warmupTeacherTempEpochs: c.warmupTeacherTempEpochs,
      nepochs: c.epochs,
      studentTemp: c.studentTemp,
      centerMomentum: c.centerMomentum,
    });
    this.config = c;
    try {
      this.student = this.addModule('student', this.network(c, c.dropPathRate, this.childSeed('student')));
      // Same architecture; its initial weights are replaced by the student's below.
      this.teacher = this.addModule('teacher', this.network(c, 0, this.childSeed('teacher')));
    } catch (e) {
      dinoLoss.dispose();
      this.dispose();
      throw e;
    }
    this.teacher.freeze();
    this.dinoLoss = dinoLoss;
    this.ema = new EMA(namedVariables(this.student), namedVariables(this.teacher), { momentum: c.momentumTeacher });
    // dino: teacher_without_ddp.load_state_dict(student.module.state_dict()).
    this.ema.update(0);
  }

  private network(c: ResolvedDINOConfig, dropPathRate: number, seed: number): MultiCropWrapper {
    const backbone = new VisionTransformer({
      imgSize: c.imgSize,
      patchSize: c.patchSize,
      inChans: c.inChans,
      embedDim: c.embedDim,
      depth: c.depth,
      numHeads: c.numHeads,
      mlpRatio: c.mlpRatio,
      qkvBias: c.qkvBias,
      normEps: c.normEps,
      dropPathRate,
      checkpointing: c.checkpointing,
      dynamicImgSize: true,
      posEmbedResize: { mode: 'bicubic', antialias: false, scaleOffset: 0.1 },
      seed: deriveSeed(seed, 'backbone'),
    });
    let head: DINOHead;
    try {
      head = new DINOHead({
        inDim: c.embedDim,
        outDim: c.outDim,
        nlayers: c.headLayers,
        hiddenDim: c.headHiddenDim,
        bottleneckDim: c.headBottleneckDim,
        normLastLayer: c.normLastLayer,
        seed: deriveSeed(seed, 'head'),
      });
    } catch (e) {
      backbone.dispose();
      throw e;
    }
    return new MultiCropWrapper({ backbone, head, seed });
  }

  /** Crops per image the student sees: `2 + localCropsNumber`. */
  get ncrops(): number {
    return 2 + this.config.localCropsNumber;
  }

  /**
   * The student on every crop: `crops` (`ncrops` tensors, the 2 global crops
   * first) -> `[ncrops * B, K]`, crop-major. Pass `{ training: true }` for
   * the student's drop path.
   */
  forwardCrops(crops: tf.Tensor4D[], options: DinoForwardOptions = {}): tf.Tensor2D {
    this.checkCropCount('DINO.forwardCrops', crops, this.ncrops);
    return this.student.forward(crops, options);
  }

  /** The teacher on the two global crops: `[x1, x2]` -> `[2B, K]`, no gradient. */
  forwardTeacher(globalCrops: tf.Tensor4D[]): tf.Tensor2D {
    this.checkCropCount('DINO.forwardTeacher', globalCrops, 2);
    return tf.tidy(() => stopGradient(this.teacher.forward(globalCrops)) as tf.Tensor2D);
  }

  private checkCropCount(fn: string, crops: unknown, want: number): void {
    if (!Array.isArray(crops) || crops.length !== want) {
      throw new Error(
        `${fn}: crops must be an array of ${want} tensors${want === 2 ? ' (the two global crops)' : ` (2 global + localCropsNumber=${this.config.localCropsNumber} local crops)`}, ` +
          `got ${Array.isArray(crops) ? `${crops.length}` : typeof crops}`,
      );
    }
    this.student.checkCrops(fn, crops);
  }

  /**
   * DINO's loss of student outputs `[ncrops * B, K]` against teacher outputs
   * `[2B, K]` at `epoch` (teacher-temperature schedule), with the current
   * center (`DINOLoss.call`).
   */
  loss(studentOutput: tf.Tensor, teacherOutput: tf.Tensor, epoch: number): tf.Scalar {
    return this.dinoLoss.call(studentOutput, teacherOutput, epoch);
  }

  /**
   * The whole forward (no update of anything): the student on all crops, the
   * teacher on the 2 global ones (`crops[0]`, `crops[1]`), and the loss.
   */
  forward(crops: tf.Tensor4D[], epoch: number, options: DinoForwardOptions = {}): DinoOutput {
    this.checkCropCount('DINO.forward', crops, this.ncrops);
    this.dinoLoss.teacherTempAt(epoch); // validates epoch before any tensor work
    const teacherOutput = this.forwardTeacher(crops.slice(0, 2));
    let studentOutput: tf.Tensor2D | null = null;
    try {
      studentOutput = this.forwardCrops(crops, options);
      const loss = this.loss(studentOutput, teacherOutput, epoch);
      return { loss, studentOutput, teacherOutput };
    } catch (e) {
      tf.dispose([teacherOutput, ...(studentOutput ? [studentOutput] : [])]);
      throw e;
    }
  }

  /** Moves the center with the teacher's outputs `[2B, K]` (call once per step, after the loss). */
  updateCenter(teacherOutput: tf.Tensor): void {
    this.dinoLoss.updateCenter(teacherOutput);
  }

  /** `teacher = m * teacher + (1 - m) * student` over every weight (default `m`: `momentumTeacher`). */
  updateTeacher(momentum?: number): void {
    this.ema.update(momentum);
  }

  /**
   * DINO's teacher momentum at iteration `it` of `total`: cosine from
   * `momentumTeacher` to 1 (`utils.cosine_scheduler(momentum_teacher, 1, ...)`).
   */
  teacherMomentum(it: number, total: number): number {
    return cosineMomentum(this.config.momentumTeacher, it, total);
  }

  /** Whether the head's last layer is frozen at `epoch` (`epoch < freezeLastLayer`). */
  lastLayerFrozen(epoch: number): boolean {
    if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`DINO: epoch must be an integer >= 0, got ${String(epoch)}`);
    return epoch < this.config.freezeLastLayer;
  }

  /**
   * The student's trainable variables by name (`backbone.*`, `head.*`) for
   * an optimiser, or for one step at `epoch`: during the first
   * `freezeLastLayer` epochs the head's `last_layer` weights are left out, so
   * they receive no gradient and the optimiser leaves them alone (dino's
   * `cancel_gradients_last_layer`, which sets their `grad` to None).
   */
  studentVariables(epoch?: number): Map<string, tf.Variable> {
    const all = namedTrainableVariables(this.student);
    if (epoch === undefined || !this.lastLayerFrozen(epoch)) return all;
    return new Map([...all].filter(([k]) => !k.startsWith('head.last_layer.')));
  }

  /**
   * The backbone's normalised tokens `[B, 1 + N, D]` of images of any size
   * (multiple of the patch size). Default the teacher (DINO evaluates the
   * teacher: `eval_knn.py --checkpoint_key teacher`).
   */
  forwardFeatures(imgs: tf.Tensor, options: DinoForwardOptions & { network?: DinoNetwork } = {}): VitFeatures {
    const net = this.pick('DINO.forwardFeatures', options.network);
    this.student.checkCrops('DINO.forwardFeatures', [imgs]);
    return net.backbone.forwardFeatures(imgs, { training: options.training, rng: options.rng });
  }

  /** Class-token features `[B, D]` (what DINO's k-NN and linear evaluations use). Default the teacher. */
  encode(imgs: tf.Tensor, options: { network?: DinoNetwork } = {}): tf.Tensor2D {
    const net = this.pick('DINO.encode', options.network);
    return net.forwardFeatures([imgs as tf.Tensor4D]);
  }

  private pick(fn: string, network: DinoNetwork | undefined): MultiCropWrapper {
    const n = network ?? 'teacher';
    if (n !== 'student' && n !== 'teacher') throw new Error(`${fn}: network must be 'student' or 'teacher', got '${String(n)}'`);
    return n === 'student' ? this.student : this.teacher;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return this.encode(Array.isArray(inputs) ? inputs[0]! : inputs);
  }

  override computeOutputShape(shape: (number | null)[]): (number | null)[] {
    return [shape[0] ?? null, this.config.embedDim];
  }

  override getConfig(): serialization.ConfigDict {
    return { ...super.getConfig(), ...this.config, imgSize: [...this.config.imgSize] };
  }

  /** Frees every weight and the loss's center. */
  override dispose(): { refCountAfterDispose: number; numDisposedVariables: number } {
    this.dinoLoss?.dispose();
    return super.dispose();
  }
}
serialization.registerClass(DINO);

/**
 * {@link DINOConfig} with every default filled in (the paper's; see each
 * field), checking the DINO-specific numbers (`localCropsNumber`,
 * `freezeLastLayer`, `momentumTeacher`); the backbone, head and loss check
 * theirs when {@link DINO} builds them.
 */
export function resolveDinoConfig(config: DINOConfig = {}): ResolvedDINOConfig {
  checkConfigObject('DINO', config);
  const imgSize = config.imgSize ?? 224;
  const c: ResolvedDINOConfig = {
    imgSize: typeof imgSize === 'number' ? [imgSize, imgSize] : [imgSize[0], imgSize[1]],
    patchSize: config.patchSize ?? 16,
    inChans: config.inChans ?? 3,
    embedDim: config.embedDim ?? 384,
    depth: config.depth ?? 12,
    numHeads: config.numHeads ?? 6,
    mlpRatio: config.mlpRatio ?? 4,
    qkvBias: config.qkvBias ?? 'qkv',
    normEps: config.normEps ?? 1e-6,
    dropPathRate: config.dropPathRate ?? 0.1,
    checkpointing: config.checkpointing ?? 'auto',
    outDim: config.outDim ?? 65536,
    headLayers: config.headLayers ?? 3,
    headHiddenDim: config.headHiddenDim ?? 2048,
    headBottleneckDim: config.headBottleneckDim ?? 256,
    normLastLayer: config.normLastLayer ?? true,
    localCropsNumber: config.localCropsNumber ?? 8,
    epochs: config.epochs ?? 100,
    warmupTeacherTemp: config.warmupTeacherTemp ?? 0.04,
    teacherTemp: config.teacherTemp ?? 0.07,
    warmupTeacherTempEpochs: config.warmupTeacherTempEpochs ?? 30,
    studentTemp: config.studentTemp ?? 0.1,
    centerMomentum: config.centerMomentum ?? 0.9,
    momentumTeacher: config.momentumTeacher ?? 0.996,
    freezeLastLayer: config.freezeLastLayer ?? 1,
    seed: config.seed ?? 0,
  };
  if (!Number.isInteger(c.localCropsNumber) || c.localCropsNumber < 0) {
    throw new Error(`DINO: localCropsNumber must be an integer >= 0, got ${String(c.localCropsNumber)}`);
  }
  if (!Number.isInteger(c.freezeLastLayer) || c.freezeLastLayer < 0) {
    throw new Error(`DINO: freezeLastLayer must be an integer >= 0 (epochs), got ${String(c.freezeLastLayer)}`);
  }
  if (!Number.isFinite(c.momentumTeacher) || c.momentumTeacher < 0 || c.momentumTeacher > 1) {
    throw new Error(`DINO: momentumTeacher must be in [0, 1], got ${String(c.momentumTeacher)}`);
  }
  return c;
}

/** DINO ViT-S/16 (`vit_small`, patch 16): D 384, depth 12, 6 heads; paper's head and schedules. */
export const dinoVitSmallPatch16: Readonly<DINOConfig> = Object.freeze({ patchSize: 16, embedDim: 384, depth: 12, numHeads: 6 });
/** DINO ViT-S/8 (`vit_small --patch_size 8`). */
export const dinoVitSmallPatch8: Readonly<DINOConfig> = Object.freeze({ patchSize: 8, embedDim: 384, depth: 12, numHeads: 6 });
/** DINO ViT-B/16 (`vit_base`): D 768, depth 12, 12 heads. */
export const dinoVitBasePatch16: Readonly<DINOConfig> = Object.freeze({ patchSize: 16, embedDim: 768, depth: 12, numHeads: 12 });
/** DINO ViT-B/8 (`vit_base --patch_size 8`). */
export const dinoVitBasePatch8: Readonly<DINOConfig> = Object.freeze({ patchSize: 8, embedDim: 768, depth: 12, numHeads: 12 });
