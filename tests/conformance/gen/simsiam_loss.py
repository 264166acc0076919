#!/usr/bin/env python3
"""`simsiam_loss` cases from SimSiam's `main_simsiam.py` `train()`, run on one batch with a stub
model returning `(p1, p2, z1.detach(), z2.detach())`, a no-op optimiser and an `AverageMeter`
that records the loss value (torchvision, for the data pipeline, is stubbed).

    /usr/bin/python3 tests/conformance/gen/simsiam_loss.py [OUT_DIR]
"""
import contextlib
import io
import types

from _common import generator, meta, randn, reference, stub_modules, use, write, out_dir

stub_modules('torchvision')
use('simsiam')
import torch  # noqa: E402
import main_simsiam  # noqa: E402

REF = reference('simsiam', 'main_simsiam.py')
NOTE = ('loss taken from main_simsiam.train() run on one batch with a stub model returning (p1, p2, z1, z2), a no-op '
        'optimizer and an AverageMeter that records the loss value; torchvision stubbed (data pipeline only)')


def case(out, name, seed, N, D):
    g = generator(seed)
    p1, p2, z1, z2 = (randn(g, N, D) for _ in range(4))
    meters = []

    class Meter(main_simsiam.AverageMeter):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            meters.append(self)

    class Stub(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x1, x2):
            return p1 * self.w, p2 * self.w, z1.detach(), z2.detach()

    main_simsiam.AverageMeter = Meter
    opt = types.SimpleNamespace(zero_grad=lambda: None, step=lambda: None)
    args = types.SimpleNamespace(gpu=None, print_freq=10 ** 9)
    loader = [([torch.zeros(N, 1), torch.zeros(N, 1)], None)]
    with contextlib.redirect_stdout(io.StringIO()):  # its progress line
        main_simsiam.train(loader, Stub(), torch.nn.CosineSimilarity(dim=1), opt, 0, args)
    loss = next(m for m in meters if m.name == 'Loss').val
    write(out, name, {'input.p1': p1, 'input.p2': p2, 'input.z1': z1, 'input.z2': z2,
                      'expect.loss': torch.tensor(loss, dtype=torch.float32)},
          meta('simsiam_loss', REF, {'criterion': 'CosineSimilarity(dim=1, eps=1e-8)'}, seed, NOTE))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'simsiam_loss', 1901, N=5, D=6)
    case(out, 'simsiam_loss_n2', 1902, N=2, D=9)
