/**
 * `dino_loss`: main_dino.py `DINOLoss` via the library's `DINOLoss`: the
 * loss with the stored center (`param.center`), then the center update.
 * Every hyperparameter comes from the config; the schedule's value is
 * checked against `teacher_temp_at_epoch` when the file states it.
 */
import * as tf from '@tensorflow/tfjs-core';
import { DINOLoss } from '../../../src/losses/index.js';
import { configReader } from '../config.js';
import type { KindRunner } from '../types.js';

const { num } = configReader('dino_loss');

export const run: KindRunner = (c) => {
  const cfg = c.config;
  const center = c.tensor('param.center');
  const loss = new DINOLoss({
    outDim: num(cfg, 'out_dim'),
    ncrops: num(cfg, 'ncrops'),
    warmupTeacherTemp: num(cfg, 'warmup_teacher_temp'),
    teacherTemp: num(cfg, 'teacher_temp'),
    warmupTeacherTempEpochs: num(cfg, 'warmup_teacher_temp_epochs'),
    nepochs: num(cfg, 'nepochs'),
    studentTemp: num(cfg, 'student_temp'),
    centerMomentum: num(cfg, 'center_momentum'),
  });
  try {
    const epoch = num(cfg, 'epoch');
    if (typeof cfg.teacher_temp_at_epoch === 'number') {
      const got = loss.teacherTempAt(epoch);
      if (Math.abs(got - cfg.teacher_temp_at_epoch) > 1e-9) {
        throw new Error(`dino_loss: teacher temperature at epoch ${epoch} is ${got}, the file says ${cfg.teacher_temp_at_epoch}`);
      }
    }
    loss.setCenter(center);
    const student = c.tensor('input.student_output');
    const teacher = c.tensor('input.teacher_output');
    const value = loss.call(student, teacher, epoch);
    loss.updateCenter(teacher);
    const newCenter = tf.clone(loss.center);
    tf.dispose([student, teacher]);
    return { loss: value, center: newCenter };
  } finally {
    center.dispose();
    loss.dispose();
  }
};
