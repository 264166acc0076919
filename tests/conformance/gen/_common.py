"""Shared plumbing of the conformance generators (`gen/<kind>.py`).

Each generator imports the upstream code at a pinned commit (see
`upstream.sh`: the folder names, repositories and commits), builds the
reference module with small sizes, makes every trainable weight random,
runs it on random inputs and writes one safetensors case per configuration
in the format of tests/conformance/README.md.

Determinism (so that `npm run conformance:gen -- --check-identical` can ask
for the same bytes): every random draw comes from a `torch.Generator` seeded
from the case's `seed`; tensors are written in sorted key order with sorted
JSON keys and no timestamps. Bytes are identical for a given torch build; a
different torch (or BLAS) may move the last bits of a float.

Needs Debian's python3-torch (1.13) and numpy only. What the old torch cannot
import is stubbed here (`stub_modules`), and each case's `note` says so.
"""
import importlib.abc
import importlib.machinery
import json
import math
import os
import struct
import sys
import types

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, '..', '..', '..'))


def _pins():
    """`folder -> (owner/name, commit)` from upstream.sh (the one list of pins)."""
    out = {}
    text = open(os.path.join(HERE, 'upstream.sh')).read()
    block = text.split('PINS="', 1)[1].split('"', 1)[0]
    for line in block.strip().splitlines():
        folder, repo, commit = line.split()[:3]
        out[folder] = (repo, commit)
    return out


PINS = _pins()


def upstream(folder):
    """Path of the pinned checkout `folder`: `$MIMKIT_UPSTREAM_<FOLDER>` (upper case,
    `-` and `.` as `_`), else `$MIMKIT_UPSTREAM/<folder>`, else `<repo>/.upstream/<folder>`."""
    if folder not in PINS:
        raise SystemExit(f'unknown upstream folder {folder!r}; known: {sorted(PINS)}')
    env = 'MIMKIT_UPSTREAM_' + folder.upper().replace('-', '_').replace('.', '_')
    path = os.environ.get(env) or os.path.join(os.environ.get('MIMKIT_UPSTREAM') or os.path.join(REPO, '.upstream'), folder)
    if not os.path.isdir(path):
        raise SystemExit(f'upstream checkout {folder!r} not found at {path}: run `bash tests/conformance/gen/upstream.sh` '
                         f'(or set {env} / MIMKIT_UPSTREAM)')
    return path


def reference(folder, path):
    """`owner/repo path@commit`, the case's `reference` string."""
    repo, commit = PINS[folder]
    return f'{repo} {path}@{commit}'


def pin(folder):
    repo, commit = PINS[folder]
    return f'{repo}@{commit}'


def use(*folders):
    """Puts the checkouts first on sys.path (a folder may name a sub-path: `open_clip/src`)."""
    for f in reversed(folders):
        base, _, sub = f.partition('/')
        sys.path.insert(0, os.path.join(upstream(base), sub) if sub else upstream(base))


class _StubMeta(type):
    def __getattr__(cls, name):
        if name.startswith('__'):
            raise AttributeError(name)
        return _stub_class(name)

    def __call__(cls, *a, **k):
        return _stub_class(cls.__name__)


def _stub_class(name):
    return _StubMeta(name, (object,), {})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, roots):
        self.roots = set(roots)

    def find_spec(self, fullname, path, target=None):
        if fullname.split('.')[0] in self.roots:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        m = types.ModuleType(spec.name)
        m.__path__ = []
        m.__version__ = '0.0.0'
        m.__getattr__ = lambda name: (_ for _ in ()).throw(AttributeError(name)) if name.startswith('__') else _stub_class(name)
        return m

    def exec_module(self, module):
        pass


def stub_modules(*roots):
    """Makes `import <root>[.anything]` succeed with placeholder classes: for packages
    that the pinned code imports at module level but the generated cases never run
    (torchvision's transforms and ops in timm and dino, fairscale in torchscale)."""
    sys.meta_path.insert(0, _StubFinder(roots))


def restore_numpy_aliases():
    """numpy >= 1.24 dropped `np.float` / `np.int`; MAE's pos_embed.py and BEiT's masking
    generator still use them. Restores the aliases (`float`, `int`, as numpy had them)."""
    if not hasattr(np, 'float'):
        np.float = float
    if not hasattr(np, 'int'):
        np.int = int


# ----------------------------------------------------------------- randomness


def generator(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(g, *shape, scale=1.0):
    return torch.randn(*shape, generator=g) * scale


def rand(g, *shape):
    return torch.rand(*shape, generator=g)


def randomize(module, g, scale=0.5, skip=()):
    """Every parameter (weights, biases, layer-scale vectors, tokens, norms) becomes
    random, in `named_parameters` order, so that a missing term shows up. LayerNorm
    weights are drawn around 1. Parameters whose name contains one of `skip` stay."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if any(s in name for s in skip):
                continue
            r = torch.randn(p.shape, generator=g, dtype=torch.float32).to(p.dtype)
            if _is_norm_weight(module, name):
                p.copy_(1 + 0.2 * r)
            else:
                p.copy_(scale * r / math.sqrt(max(1, p.shape[-1] if p.dim() >= 2 else 1)) if p.dim() >= 2 else scale * r)


def _is_norm_weight(module, name):
    if not name.endswith('.weight'):
        return False
    owner = module.get_submodule(name[: -len('.weight')]) if '.' in name else module
    return isinstance(owner, torch.nn.LayerNorm)


def state(module, prefix='param.'):
    """`param.<state_dict key>` for every tensor of the state_dict (buffers included)."""
    return {prefix + k: v.detach().clone() for k, v in module.state_dict().items()}


# ------------------------------------------------------------------------- io

_DT = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64', torch.bool: 'BOOL'}
_SIZE = {'F32': 4, 'F16': 2, 'BF16': 2, 'I64': 8, 'BOOL': 1}


def _bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.float64:
        t = t.to(torch.float32)
    if t.dtype in (torch.int32, torch.int16, torch.uint8):
        t = t.to(torch.int64)
    dt = _DT[t.dtype]
    if dt == 'BOOL':
        data = t.numpy().astype(np.uint8).tobytes()
    elif dt == 'BF16':
        data = t.view(torch.int16).numpy().astype('<i2').tobytes()
    else:
        data = t.numpy().astype(t.numpy().dtype.newbyteorder('<')).tobytes()
    return dt, list(t.shape), data


def save(path, tensors, metadata):
    """Writes a plain safetensors file: tensors in sorted key order, each data offset
    a multiple of its element size, sorted JSON keys, the header padded to 8 bytes."""
    header = {'__metadata__': {k: str(v) for k, v in sorted(metadata.items())}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        dt, shape, data = _bytes(tensors[name])
        pad = (-offset) % _SIZE[dt]
        if pad:
            blobs.append(b'\0' * pad)
            offset += pad
        header[name] = {'dtype': dt, 'shape': shape, 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(',', ':'), sort_keys=True).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def meta(kind, reference_, config, seed, note='', atol=1e-4, rtol=1e-3):
    m = {
        'case': kind,
        'reference': reference_,
        'config': json.dumps(config, sort_keys=True),
        'atol': repr(float(atol)) if atol else '0',
        'rtol': repr(float(rtol)) if rtol else '0',
        'layout': 'NCHW',
        'seed': str(seed),
        'generator': 'tests/conformance/gen/' + os.path.basename(sys.argv[0]),
    }
    if note:
        m['note'] = note
    return m


def out_dir():
    """The output folder: the one argument (the driver passes it), else tests/conformance/cases."""
    args = [a for a in sys.argv[1:] if not a.startswith('-')]
    d = os.path.abspath(args[0]) if args else os.path.join(REPO, 'tests', 'conformance', 'cases')
    os.makedirs(d, exist_ok=True)
    return d


def write(out, name, tensors, metadata):
    save(os.path.join(out, name + '.safetensors'), tensors, metadata)
    print(f'  {name}.safetensors  ({metadata["case"]})')


torch.set_num_threads(1)  # the same reduction order on every machine size


def _parse_axes(side):
    groups, cur, inside = [], None, False
    for tok in side.replace('(', ' ( ').replace(')', ' ) ').split():
        if tok == '(':
            cur, inside = [], True
        elif tok == ')':
            groups.append(cur)
            inside = False
        elif inside:
            cur.append(tok)
        else:
            groups.append([tok])
    return groups


def rearrange(t, pattern, **sizes):
    """A small stand-in for `einops.rearrange` (einops is not packaged for Debian's torch here): axis
    names, `( )` groups that merge or split axes, at most one unknown size per group; no ellipsis."""
    lhs, rhs = [s.strip() for s in pattern.split('->')]
    lg, rg = _parse_axes(lhs), _parse_axes(rhs)
    if len(lg) != t.dim():
        raise ValueError(f'rearrange: {pattern!r} expects {len(lg)} axes, got {t.dim()}')
    known = dict(sizes)
    for group, n in zip(lg, t.shape):
        unknown = [a for a in group if a not in known]
        prod = 1
        for a in group:
            if a in known:
                prod *= known[a]
        if len(unknown) > 1:
            raise ValueError(f'rearrange: cannot infer {unknown} in {pattern!r}')
        if unknown:
            known[unknown[0]] = n // prod
    elems = [a for g in lg for a in g]
    x = t.reshape([known[a] for a in elems])
    order = [elems.index(a) for g in rg for a in g]
    x = x.permute(order)
    shape = []
    for g in rg:
        n = 1
        for a in g:
            n *= known[a]
        shape.append(n)
    return x.reshape(shape)


def install_einops_shim():
    """`import einops` / `from einops import rearrange` get the stand-in above."""
    m = types.ModuleType('einops')
    m.rearrange = rearrange
    sys.modules['einops'] = m


def load_file(name, path):
    """Imports one upstream file as module `name` without its package's `__init__` (which may
    need dependencies that the generated case never touches)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def unit_rows(x):
    return x / x.norm(dim=1, keepdim=True)
