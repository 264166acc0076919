"""PyTorch reference timing for examples/bench.ts: one MAE pretraining step
(forward, backward, AdamW update) of the same config, written with plain
torch ops as facebookresearch/mae's models_mae.py does it (patchify, random
masking by argsort of noise, encoder on the kept patches, decoder with mask
tokens, norm-pix MSE on the removed patches), on ONE CPU thread.

Usage (bench.ts runs it with --torch):
    OMP_NUM_THREADS=1 /usr/bin/python3 examples/bench_torch.py \
        --config '{"imgSize":32,"patchSize":4,"inChans":3,"embedDim":192,...}' \
        --batch 64 --steps 5 --warmup 1 --mask-ratios 0.75,0

Prints one JSON line: {"torch": version, "threads": 1, "results": [{"maskRatio",
"stepMs": [...], "lastLoss"}]}. Needs only torch (Debian's python3-torch).
"""

import argparse
import json
import resource
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """timm's pre-norm ViT block: x + attn(norm1(x)); x + mlp(norm2(x))."""

    def __init__(self, dim, heads, mlp_ratio, eps):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)

    def forward(self, x):
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        o = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.proj(o)
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class MAE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.p = c["patchSize"]
        self.c = c.get("inChans", 3)
        size = c["imgSize"] if isinstance(c["imgSize"], int) else c["imgSize"][0]
        self.L = (size // self.p) ** 2
        D, Dd = c["embedDim"], c["decoderEmbedDim"]
        eps, r = c.get("normEps", 1e-6), c.get("mlpRatio", 4)
        self.patch_embed = nn.Linear(self.p * self.p * self.c, D)  # a stride-p conv on patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.register_buffer("pos_embed", torch.randn(1, self.L + 1, D) * 0.02)
        self.blocks = nn.ModuleList([Block(D, c["numHeads"], r, eps) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(D, eps=eps)
        self.decoder_embed = nn.Linear(D, Dd)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, Dd))
        self.register_buffer("decoder_pos_embed", torch.randn(1, self.L + 1, Dd) * 0.02)
        self.decoder_blocks = nn.ModuleList([Block(Dd, c["decoderNumHeads"], r, eps) for _ in range(c["decoderDepth"])])
        self.decoder_norm = nn.LayerNorm(Dd, eps=eps)
        self.decoder_pred = nn.Linear(Dd, self.p * self.p * self.c)

    def patchify(self, imgs):  # NHWC [B, H, W, C] -> [B, L, p*p*C]
        b, hh, ww, c = imgs.shape
        p = self.p
        x = imgs.reshape(b, hh // p, p, ww // p, p, c).permute(0, 1, 3, 2, 4, 5)
        return x.reshape(b, self.L, p * p * c)

    def forward(self, imgs, mask_ratio):
        patches = self.patchify(imgs)
        x = self.patch_embed(patches) + self.pos_embed[:, 1:, :]
        b, L, D = x.shape
        keep = int(L * (1 - mask_ratio))
        noise = torch.rand(b, L)
        ids_shuffle = torch.argsort(noise, dim=1)
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        ids_keep = ids_shuffle[:, :keep]
        x = torch.gather(x, 1, ids_keep.unsqueeze(-1).repeat(1, 1, D))
        mask = torch.ones(b, L)
        if keep < L:  # with nothing removed, the loss covers every patch (as bench.ts does)
            mask[:, :keep] = 0
            mask = torch.gather(mask, 1, ids_restore)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(b, -1, -1)
        x = torch.cat([cls, x], 1)
        for blk in self.blocks:
            x = blk(x)
        x = self.decoder_embed(self.norm(x))
        Dd = x.shape[-1]
        mask_tokens = self.mask_token.repeat(b, L + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], 1)
        x_ = torch.gather(x_, 1, ids_restore.unsqueeze(-1).repeat(1, 1, Dd))
        x = torch.cat([x[:, :1, :], x_], 1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        mean = patches.mean(-1, keepdim=True)
        var = patches.var(-1, keepdim=True)
        target = (patches - mean) / (var + 1e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(-1)
        return (loss * mask).sum() / mask.sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mask-ratios", default="0.75,0")
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    c = json.loads(a.config)
    results = []
    for mr in [float(s) for s in a.mask_ratios.split(",")]:
        model = MAE(c)
        opt = torch.optim.AdamW(model.parameters(), lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
        size = c["imgSize"] if isinstance(c["imgSize"], int) else c["imgSize"][0]
        imgs = torch.rand(a.batch, size, size, c.get("inChans", 3))
        times, loss = [], float("nan")
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            l = model(imgs, mr)
            l.backward()
            opt.step()
            loss = l.item()
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1000)
        # Peak resident memory of the process so far (grows only; mask 0.75 runs first).
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        results.append({"maskRatio": mr, "stepMs": times, "lastLoss": loss, "peakRssBytes": peak})
    # Which BLAS runs matters. Debian's python3-torch is built against the generic
    # BLAS interface (BLAS_INFO=generic); the library behind it is chosen at run
    # time by Debian's alternatives: the reference BLAS (slow) unless
    # libopenblas0-pthread is installed. Report the library actually mapped.
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": loaded_blas(),
        "results": results,
    }))


def loaded_blas():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
    except OSError:
        return None
    names = sorted({os.path.realpath(p) for p in libs})
    if any("openblas" in n for n in names):
        return "openblas"
    if names:
        return "reference (" + ", ".join(os.path.basename(n) for n in names) + ")"
    return None


if __name__ == "__main__":
    main()
