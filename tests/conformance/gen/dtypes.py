#!/usr/bin/env python3
"""`dtypes` cases: the same values as F32, F16 and BF16 (each exact in all three: at most 8
significant bits, inside F16's range, F16 subnormals included, +0 and -0). No upstream code: the
safetensors format itself.

    /usr/bin/python3 tests/conformance/gen/dtypes.py [OUT_DIR]
"""
from _common import generator, meta, write, out_dir
import torch

REF = 'none: safetensors format (F32/F16/BF16 little-endian), own values (tests/conformance/gen/dtypes.py)'


def case(out, name, seed, shape):
    g = generator(seed)
    n = 1
    for s in shape:
        n *= s
    fixed = [0.0, -0.0, 2.0 ** -24, -3 * 2.0 ** -20, 2.0 ** -14, -65280.0, 65280.0, -1.5]
    mant = torch.randint(0, 256, (n,), generator=g)
    expo = torch.randint(-16, 8, (n,), generator=g)
    sign = torch.randint(0, 2, (n,), generator=g) * 2 - 1
    vals = (sign * mant).to(torch.float64) * torch.pow(2.0, expo.to(torch.float64))
    vals[: len(fixed)] = torch.tensor(fixed[:n], dtype=torch.float64)
    v32 = vals.to(torch.float32).reshape(shape)
    assert torch.equal(v32.to(torch.float16).to(torch.float32), v32) and torch.equal(v32.to(torch.bfloat16).to(torch.float32), v32)
    write(out, name, {'input.f32': v32, 'input.f16': v32.to(torch.float16), 'input.bf16': v32.to(torch.bfloat16),
                      'expect.values': v32}, meta('dtypes', REF, {'shape': list(shape)}, seed, atol=0, rtol=0))


if __name__ == '__main__':
    out = out_dir()
    case(out, 'dtypes', 2201, [3, 5])
    case(out, 'dtypes_rank3', 2202, [2, 2, 3])
