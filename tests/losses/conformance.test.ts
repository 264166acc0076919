import { describe, it } from 'vitest';
import { run as clip } from '../conformance/kinds/clip_loss.js';
import { run as moco } from '../conformance/kinds/moco_v3_loss.js';
import { run as dino } from '../conformance/kinds/dino_loss.js';
import { run as simsiam } from '../conformance/kinds/simsiam_loss.js';
import { run as tinymim } from '../conformance/kinds/tinymim_relation.js';
import { CONFORMANCE_DIR, checkConformance } from './helpers.js';

describe('loss conformance kinds reproduce the reference files', () => {
  it('clip_loss', () => checkConformance(`${CONFORMANCE_DIR}/clip_loss.safetensors`, clip));
  it('moco_v3_loss', () => checkConformance(`${CONFORMANCE_DIR}/moco_v3_loss.safetensors`, moco));
  it('dino_loss (loss and updated center)', () => checkConformance(`${CONFORMANCE_DIR}/dino_loss.safetensors`, dino));
  it('simsiam_loss', () => checkConformance(`${CONFORMANCE_DIR}/simsiam_loss.safetensors`, simsiam));
  it('tinymim_relation', () => checkConformance(`${CONFORMANCE_DIR}/tinymim_relation.safetensors`, tinymim));
});
