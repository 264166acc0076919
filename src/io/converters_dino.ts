/**
 * Converters for DINO checkpoints (facebookresearch/dino `main_dino.py`). The
 * library's `MultiCropWrapper` (a `DINO` model's `student` and `teacher`)
 * uses dino's own `state_dict` names (`backbone.*`: the ViT with timm's
 * names; `head.mlp.*`, `head.last_layer.weight_v`, `head.last_layer.weight_g`),
 * so its converter is the identity; the `dino_loss` center is a buffer of the
 * loss, set with `dino.dinoLoss.setCenter`.
 *
 * What dino publishes and how each loads:
 * - backbone-only weights (`dino_deitsmall16_pretrain.pth`, ...): a plain
 *   `VisionTransformer` state_dict, loaded into a `VisionTransformer` with the
 *   identity (`timmVit`) converter;
 * - a full training checkpoint's `student` dict (keys `module.backbone.*`,
 *   `module.head.*` from DistributedDataParallel) or `teacher` dict
 *   (`backbone.*`, `head.*`): into `dino.student` / `dino.teacher` with
 *   {@link dinoConverter} (and `prefix: 'module.'` for the student), or the
 *   backbone alone into a `VisionTransformer` with
 *   {@link dinoBackboneConverter};
 * - the whole checkpoint flattened to one file (`student.module.*`,
 *   `teacher.*`, `dino_loss.center`): into a `DINO` with
 *   {@link dinoCheckpointConverter}.
 */
import { defineConverter, type WeightConverter } from './converters.js';

/**
 * dino's `MultiCropWrapper(VisionTransformer, DINOHead)` state_dict (a
 * checkpoint's `student` or `teacher` dict) into `MultiCropWrapper`
 * (`DINO.student`, `DINO.teacher`): identical names. `head.last_layer.weight_v`
 * is a Linear weight `[out_dim, bottleneck_dim]` and `weight_g` is
 * `[out_dim, 1]`, converted at import like every Linear weight.
 */
export const dinoConverter: WeightConverter = defineConverter({
  name: 'dino',
  doc:
    'dino MultiCropWrapper state_dict (backbone.patch_embed.proj, backbone.cls_token, backbone.pos_embed, ' +
    'backbone.blocks.N.*, backbone.norm, head.mlp.N / head.mlp, head.last_layer.weight_v, head.last_layer.weight_g) ' +
    "into MultiCropWrapper (DINO.student / DINO.teacher): identical names; prefix 'module.' for a DDP student dict.",
});

/**
 * A dino `student` or `teacher` dict into a `VisionTransformer` (the
 * backbone alone, e.g. for k-NN or linear evaluation): `backbone.` is
 * stripped (added back on export), `head.*` is skipped.
 */
export const dinoBackboneConverter: WeightConverter = defineConverter({
  name: 'dino-backbone',
  doc: "dino student/teacher state_dict into a VisionTransformer: 'backbone.' stripped, head.* skipped.",
  renames: [[/^backbone\./, '']],
  inverse: [[/^/, 'backbone.']],
  skip: ['head.'],
});

/**
 * A whole dino training checkpoint flattened to one state_dict (`student.`
 * + the DDP student's `module.backbone.*` / `module.head.*`, `teacher.` +
 * `backbone.*` / `head.*`) into a `DINO` (`student.*`, `teacher.*`):
 * `student.module.` becomes `student.` (and back on export); the loss's
 * center (`dino_loss.center`) is skipped: load it with
 * `dino.dinoLoss.setCenter`.
 */
export const dinoCheckpointConverter: WeightConverter = defineConverter({
  name: 'dino-checkpoint',
  doc:
    "dino checkpoint flattened (student.module.*, teacher.*, dino_loss.center) into DINO: 'student.module.' -> " +
    "'student.', teacher.* unchanged, dino_loss.* skipped (set the center with dinoLoss.setCenter).",
  renames: [[/^student\.module\./, 'student.']],
  inverse: [[/^student\./, 'student.module.']],
  skip: ['dino_loss.'],
});
