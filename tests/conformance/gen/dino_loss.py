#!/usr/bin/env python3
"""`dino_loss` cases from dino's `main_dino.py` `DINOLoss` (single process: `dist.all_reduce` is a
no-op and the world size 1; torchvision, imported at module level for the data pipeline, is stubbed).

    /usr/bin/python3 tests/conformance/gen/dino_loss.py [OUT_DIR]
"""
from _common import generator, meta, randn, reference, stub_modules, use, write, out_dir

stub_modules('torchvision')
use('dino')
import torch  # noqa: E402
import main_dino  # noqa: E402

main_dino.dist.all_reduce = lambda *a, **k: None
main_dino.dist.get_world_size = lambda *a, **k: 1

REF = reference('dino', 'main_dino.py')
NOTE = ('torch.distributed.all_reduce -> no-op and get_world_size -> 1 (single process); torchvision stubbed '
        '(data pipeline only); param.center is the center before the call')


def case(out, name, seed, B, K, ncrops, epoch, nepochs, warm, warm_epochs, tt, st, cm):
    g = generator(seed)
    crit = main_dino.DINOLoss(K, ncrops, warm, tt, warm_epochs, nepochs, student_temp=st, center_momentum=cm)
    with torch.no_grad():
        crit.center.copy_(randn(g, 1, K, scale=0.3))
    center = crit.center.clone()
    s, t = randn(g, ncrops * B, K, scale=2.0), randn(g, 2 * B, K, scale=2.0)
    with torch.no_grad():
        loss = crit(s, t, epoch)
    cfg = {'out_dim': K, 'ncrops': ncrops, 'warmup_teacher_temp': warm, 'teacher_temp': tt,
           'warmup_teacher_temp_epochs': warm_epochs, 'nepochs': nepochs, 'student_temp': st, 'center_momentum': cm,
           'epoch': epoch, 'teacher_temp_at_epoch': float(crit.teacher_temp_schedule[epoch])}
    write(out, name, {'param.center': center, 'input.student_output': s, 'input.teacher_output': t,
                      'expect.loss': loss, 'expect.center': crit.center}, meta('dino_loss', REF, cfg, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'dino_loss', 1801, B=2, K=6, ncrops=3, epoch=3, nepochs=20, warm=0.04, warm_epochs=10, tt=0.07, st=0.1,
         cm=0.9)
    case(out, 'dino_loss_after_warmup', 1802, B=3, K=5, ncrops=2, epoch=12, nepochs=15, warm=0.03, warm_epochs=4,
         tt=0.05, st=0.2, cm=0.8)
