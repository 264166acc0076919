"""PyTorch reference timing for examples/bench.ts, on ONE CPU thread, written
with plain torch ops as the reference code does it:

- `--model mae` (default): one MAE pretraining step (forward, backward,
  AdamW update) as facebookresearch/mae's models_mae.py (patchify, random
  masking by argsort of noise, encoder on the kept patches, decoder with mask
  tokens, norm-pix MSE on the removed patches), at each of `--mask-ratios`;
- `--model simmim|beit|clip|flip|dino`: the other steps of
  examples/lib/bench-models.ts (SimMIM's and BEiT's encoder with mask tokens
  and their heads and losses; open_clip's CLIP towers and ClipLoss, with
  patch dropout for FLIP; dino's student, EMA teacher, DINOLoss, clipping and
  center), at the sizes bench.ts passes in `--config`.

Usage (bench.ts runs it with --torch):
    OMP_NUM_THREADS=1 /usr/bin/python3 examples/bench_torch.py \
        --config '{"imgSize":32,"patchSize":4,"inChans":3,"embedDim":192,...}' \
        --batch 64 --steps 5 --warmup 1 --mask-ratios 0.75,0 [--model mae]

Prints one JSON line: {"torch": version, "threads": 1, "blas", "results":
[{"maskRatio" (MAE) or "model", "stepMs": [...], "lastLoss", "peakRssBytes"}]}.
Needs only torch (Debian's python3-torch).
"""

import argparse
import json
import math
import resource
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    """timm's pre-norm ViT block: x + attn(norm1(x)); x + mlp(norm2(x)), with
    BEiT's layer scale (gamma_1, gamma_2) when init_values is set and an
    additive attention mask (CLIP's causal text tower) when given."""

    def __init__(self, dim, heads, mlp_ratio, eps, init_values=None):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, int(dim * mlp_ratio))
        self.fc2 = nn.Linear(int(dim * mlp_ratio), dim)
        if init_values is not None:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x, attn_mask=None):
        b, n, d = x.shape
        h = self.heads
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * (d // h) ** -0.5) @ k.transpose(-2, -1)
        if attn_mask is not None:
            attn = attn + attn_mask
        o = self.proj((attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d))
        x = x + (o if self.gamma_1 is None else self.gamma_1 * o)
        f = self.fc2(F.gelu(self.fc1(self.norm2(x))))
        return x + (f if self.gamma_2 is None else self.gamma_2 * f)


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


def patchify(imgs, p):
    """NHWC [B, H, W, C] -> [B, L, p*p*C], patches row-major."""
    b, hh, ww, c = imgs.shape
    x = imgs.reshape(b, hh // p, p, ww // p, p, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (hh // p) * (ww // p), p * p * c)


class ViT(nn.Module):
    """The BEiT / SimMIM / DINO form of the encoder: patch embedding (a
    stride-p conv written as a Linear on patches), class token, learned
    positions (bicubically resized for other crop sizes, dino's
    interpolate_pos_encoding), an optional mask token that replaces masked
    patch embeddings (BEiT, SimMIM), pre-norm blocks, final norm."""

    def __init__(self, c, init_values=None, mask_token=False, eps=1e-6):
        super().__init__()
        self.p = c["patchSize"]
        D = c["embedDim"]
        L = (c["imgSize"] // self.p) ** 2
        self.patch_embed = nn.Linear(self.p * self.p * c.get("inChans", 3), D)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.randn(1, L + 1, D) * 0.02)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, D)) if mask_token else None
        self.blocks = nn.ModuleList([Block(D, c["numHeads"], c.get("mlpRatio", 4), eps, init_values) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(D, eps=eps)

    def forward(self, imgs, mask=None):
        x = self.patch_embed(patchify(imgs, self.p))
        if mask is not None:
            w = mask.unsqueeze(-1)
            x = x * (1 - w) + self.mask_token * w
        b, n, D = x.shape
        pos = self.pos_embed
        if n + 1 != pos.shape[1]:
            g, s = int(round((pos.shape[1] - 1) ** 0.5)), int(round(n ** 0.5))
            grid = pos[:, 1:].reshape(1, g, g, D).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(s, s), mode="bicubic", align_corners=False)
            pos = torch.cat([pos[:, :1], grid.permute(0, 2, 3, 1).reshape(1, s * s, D)], 1)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], 1) + pos
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


def random_mask(b, L, masked):
    """[B, L] float, exactly `masked` ones per row at random places."""
    noise = torch.rand(b, L)
    ids = torch.argsort(noise, dim=1)[:, :masked]
    m = torch.zeros(b, L)
    m.scatter_(1, ids, 1.0)
    return m


class SimMIMStep(nn.Module):
    """SimMIM: encoder with mask tokens on every patch, a 1x1 conv to
    p*p*C values per patch (the pixel shuffle is a reshape), L1 on the masked
    pixels."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.encoder = ViT(c, c.get("initValues"), mask_token=True)
        self.decoder = nn.Linear(c["embedDim"], c["patchSize"] ** 2 * c.get("inChans", 3))

    def inputs(self, b):
        c = self.c
        units = (c["imgSize"] // c["maskPatchSize"]) ** 2
        scale = c["maskPatchSize"] // c["patchSize"]
        g = c["imgSize"] // c["maskPatchSize"]
        m = random_mask(b, units, int(-(-units * c["maskRatio"] // 1))).reshape(b, g, g)
        m = m.repeat_interleave(scale, 1).repeat_interleave(scale, 2).reshape(b, -1)
        return (torch.rand(b, c["imgSize"], c["imgSize"], c.get("inChans", 3)), m)

    def forward(self, imgs, mask):
        z = self.encoder(imgs, mask)[:, 1:]
        rec = self.decoder(z)
        w = mask.unsqueeze(-1)
        loss = ((rec - patchify(imgs, self.c["patchSize"])).abs() * w).sum()
        return loss / (w.sum() * rec.shape[-1] + 1e-5)


class BEiTStep(nn.Module):
    """BEiT: encoder with mask tokens on every patch, lm_head on the masked
    patches, cross-entropy against visual-token labels."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.encoder = ViT(c, c.get("initValues"), mask_token=True)
        self.lm_head = nn.Linear(c["embedDim"], c["vocabSize"])

    def inputs(self, b):
        c = self.c
        L = (c["imgSize"] // c["patchSize"]) ** 2
        m = random_mask(b, L, c["masked"])
        labels = torch.randint(0, c["vocabSize"], (b * c["masked"],))
        return (torch.rand(b, c["imgSize"], c["imgSize"], c.get("inChans", 3)), m, labels)

    def forward(self, imgs, mask, labels):
        x = self.encoder(imgs, mask)[:, 1:]
        logits = self.lm_head(x[mask.bool()])
        return F.cross_entropy(logits, labels)


class CLIPStep(nn.Module):
    """open_clip's CLIP: image tower (conv1 without bias, class embedding,
    positions, patch dropout in training for FLIP, ln_pre, blocks, ln_post on
    the class token, proj) and causal text tower (token and position
    embedding, blocks, ln_final, the end-of-text token, text_projection),
    ClipLoss over the batch."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        t = c["text"]
        W, E, p = c["embedDim"], c["clipEmbed"], c["patchSize"]
        L = (c["imgSize"] // p) ** 2
        self.conv1 = nn.Linear(p * p * c.get("inChans", 3), W, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(W) * W ** -0.5)
        self.positional_embedding = nn.Parameter(torch.randn(L + 1, W) * W ** -0.5)
        self.ln_pre = nn.LayerNorm(W)
        self.blocks = nn.ModuleList([Block(W, c["numHeads"], c.get("mlpRatio", 4), 1e-5) for _ in range(c["depth"])])
        self.ln_post = nn.LayerNorm(W)
        self.proj = nn.Parameter(torch.randn(W, E) * W ** -0.5)
        Wt = t["width"]
        self.token_embedding = nn.Embedding(t["vocabSize"], Wt)
        self.text_positions = nn.Parameter(torch.randn(t["contextLength"], Wt) * 0.01)
        self.text_blocks = nn.ModuleList([Block(Wt, t["heads"], 4, 1e-5) for _ in range(t["layers"])])
        self.ln_final = nn.LayerNorm(Wt)
        self.text_projection = nn.Parameter(torch.randn(Wt, E) * Wt ** -0.5)
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))
        n = t["contextLength"]
        self.register_buffer("causal", torch.full((n, n), float("-inf")).triu(1))

    def inputs(self, b):
        c, t = self.c, self.c["text"]
        ids = torch.randint(1, t["vocabSize"] - 1, (b, t["contextLength"]))
        ids[:, -1] = t["vocabSize"] - 1
        return (torch.rand(b, c["imgSize"], c["imgSize"], c.get("inChans", 3)), ids)

    def encode_image(self, imgs):
        x = self.conv1(patchify(imgs, self.c["patchSize"]))
        b, L, W = x.shape
        x = torch.cat([self.class_embedding.expand(b, 1, W), x], 1) + self.positional_embedding
        r = self.c.get("maskRatio", 0)
        if r > 0:  # open_clip PatchDropout: keep the class token and a random subset of patches
            keep = max(1, int(L * (1 - r)))
            idx = torch.argsort(torch.rand(b, L), dim=1)[:, :keep] + 1
            x = torch.cat([x[:, :1], torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, W))], 1)
        x = self.ln_pre(x)
        for blk in self.blocks:
            x = blk(x)
        return self.ln_post(x[:, 0]) @ self.proj

    def encode_text(self, ids):
        x = self.token_embedding(ids) + self.text_positions[: ids.shape[1]]
        for blk in self.text_blocks:
            x = blk(x, self.causal)
        x = self.ln_final(x)
        return x[torch.arange(x.shape[0]), ids.argmax(-1)] @ self.text_projection

    def forward(self, imgs, ids):
        img = F.normalize(self.encode_image(imgs), dim=-1)
        txt = F.normalize(self.encode_text(ids), dim=-1)
        logits = self.logit_scale.exp() * img @ txt.T
        labels = torch.arange(logits.shape[0])
        return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2

    def after_step(self):
        with torch.no_grad():
            self.logit_scale.clamp_(0, math.log(100))


class DINOHead(nn.Module):
    def __init__(self, D, c):
        super().__init__()
        h, bn = c["headHiddenDim"], c["headBottleneckDim"]
        self.mlp = nn.Sequential(nn.Linear(D, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, bn))
        self.last_layer = nn.utils.weight_norm(nn.Linear(bn, c["outDim"], bias=False))
        self.last_layer.weight_g.data.fill_(1)
        self.last_layer.weight_g.requires_grad = False  # norm_last_layer

    def forward(self, x):
        return self.last_layer(F.normalize(self.mlp(x), dim=-1, p=2))


class DINONet(nn.Module):
    """dino's MultiCropWrapper: the backbone on each resolution's crops together, the head on all class tokens."""

    def __init__(self, c):
        super().__init__()
        self.backbone = ViT(c)
        self.head = DINOHead(c["embedDim"], c)

    def forward(self, crops):
        feats, i = [], 0
        while i < len(crops):
            j = i
            while j < len(crops) and crops[j].shape == crops[i].shape:
                j += 1
            feats.append(self.backbone(torch.cat(crops[i:j]))[:, 0])
            i = j
        return self.head(torch.cat(feats))


class DINOStep(nn.Module):
    """DINO: student on every crop, teacher (EMA, no gradient) on the two
    global crops, DINOLoss with centering and sharpening (teacher temperature
    at epoch 1 of a 30-epoch warm-up from 0.04 to 0.07), gradient clipping
    at 3, then the center and the teacher are updated."""

    def __init__(self, c):
        super().__init__()
        self.c = c
        self.student = DINONet(c)
        self.teacher = DINONet(c)
        self.teacher.load_state_dict(self.student.state_dict())
        for q in self.teacher.parameters():
            q.requires_grad = False
        self.register_buffer("center", torch.zeros(1, c["outDim"]))
        self.teacher_temp = 0.04 + (0.07 - 0.04) / 29  # np.linspace(0.04, 0.07, 30)[1]
        self.ncrops = 2 + c["localCrops"]

    def inputs(self, b):
        c = self.c
        g = [torch.rand(b, c["imgSize"], c["imgSize"], 3) for _ in range(2)]
        return (g + [torch.rand(b, c["localSize"], c["localSize"], 3) for _ in range(c["localCrops"])],)

    def forward(self, crops):
        with torch.no_grad():
            t_out = self.teacher(crops[:2])
        s_out = (self.student(crops) / 0.1).chunk(self.ncrops)
        t = F.softmax((t_out - self.center) / self.teacher_temp, dim=-1).chunk(2)
        total, n = 0, 0
        for iq, q in enumerate(t):
            for v in range(self.ncrops):
                if v == iq:
                    continue
                total = total + torch.sum(-q * F.log_softmax(s_out[v], dim=-1), dim=-1).mean()
                n += 1
        self._t_out = t_out
        return total / n

    def params(self):
        return self.student.parameters()

    def clip(self):
        return 3.0

    def after_step(self, m=0.996):
        with torch.no_grad():
            for q, k in zip(self.student.parameters(), self.teacher.parameters()):
                k.mul_(m).add_((1 - m) * q.detach())
            self.center.mul_(0.9).add_(0.1 * self._t_out.mean(0, keepdim=True))


STEPS = {"simmim": SimMIMStep, "beit": BEiTStep, "clip": CLIPStep, "flip": CLIPStep, "dino": DINOStep}


def time_model(name, c, batch, steps, warmup):
    model = STEPS[name](c)
    params = [q for q in (model.params() if hasattr(model, "params") else model.parameters()) if q.requires_grad]
    if name == "dino":
        opt = torch.optim.AdamW(params, lr=5e-4, betas=(0.9, 0.999), weight_decay=0.04)
    else:
        opt = torch.optim.AdamW(params, lr=1.5e-4, betas=(0.9, 0.95), weight_decay=0.05)
    inputs = model.inputs(batch)
    times, loss = [], float("nan")
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        l = model(*inputs)
        l.backward()
        if hasattr(model, "clip"):
            torch.nn.utils.clip_grad_norm_(params, model.clip())
        opt.step()
        if hasattr(model, "after_step"):
            model.after_step()
        loss = l.item()
        if i >= warmup:
            times.append((time.perf_counter() - t0) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"model": name, "stepMs": times, "lastLoss": loss, "peakRssBytes": peak}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--mask-ratios", default="0.75,0")
    ap.add_argument("--model", default="mae", choices=["mae"] + sorted(STEPS))
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    c = json.loads(a.config)
    results = []
    if a.model != "mae":
        results.append(time_model(a.model, c, a.batch, a.steps, a.warmup))
    for mr in ([] if a.model != "mae" else [float(s) for s in a.mask_ratios.split(",")]):
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
