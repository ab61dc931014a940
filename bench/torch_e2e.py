"""PyTorch reference for bench/e2e.ts: fastai's fine_tune recipe written out in plain PyTorch.

torchvision resnet18 (random init) cut before its pool, fastai's head (concat pool,
BatchNorm1d, dropout 0.25/0.5, Linear 1024->512->2, fastai's init), layer groups
[stem..layer2], [layer3, layer4], [head]; Adam as fastai's (AdamW, betas (mom, 0.99),
eps 1e-5, decoupled wd 0.01, none on BatchNorm and biases); fine_tune: one-cycle
with the body frozen (pct_start 0.99, slice(lr)), then unfrozen
(slice(lr/2/100, lr/2), pct_start 0.3, div 5), lr and momentum set every iteration.
--config cached: BatchNorm weights of frozen groups are not trained and those layers
run in eval mode (fastai's train_bn=False + BnFreeze), as fastvision's cached run.

Prints one JSON line. Run with Debian's /usr/bin/python3.
"""
import argparse
import csv
import json
import math
import os
import resource
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn


def load_rows(root):
    with open(os.path.join(root, "labels.csv")) as f:
        rows = list(csv.DictReader(f))
    vocab = sorted({r["label"] for r in rows})
    return rows, vocab


class Images(torch.utils.data.Dataset):
    def __init__(self, root, rows, vocab, size):
        self.root, self.rows, self.vocab, self.size = root, rows, vocab, size

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        img = Image.open(os.path.join(self.root, r["fn"])).convert("RGB").resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return x, self.vocab.index(r["label"])


class ConcatPool(nn.Module):
    def forward(self, x):
        return torch.cat([torch.amax(x, dim=(2, 3)), torch.mean(x, dim=(2, 3))], 1)


def fastai_head(nf, n_out):
    layers = [ConcatPool(), nn.BatchNorm1d(2 * nf), nn.Dropout(0.25), nn.Linear(2 * nf, 512, bias=False), nn.ReLU(inplace=True),
              nn.BatchNorm1d(512), nn.Dropout(0.5), nn.Linear(512, n_out)]
    for m in layers:
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        if isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, 1e-3)
    return nn.Sequential(*layers)


def comb_cos(pct, start, middle, end, pos):
    def cos(s, e, p):
        return s + (1 + math.cos(math.pi * (1 - p))) * (e - s) / 2
    return cos(start, middle, pos / pct) if pos < pct else cos(middle, end, (pos - pct) / (1 - pct))


class Trainer:
    def __init__(self, model, groups, train_bn, bn_freeze):
        self.model, self.groups, self.train_bn, self.bn_freeze = model, groups, train_bn, bn_freeze
        self.bn_types = (nn.BatchNorm1d, nn.BatchNorm2d)
        param_groups = []
        for g in groups:
            params = [p for m in g for p in m.parameters()]
            no_wd = {id(p) for m in g for mod in m.modules() for n, p in mod.named_parameters(recurse=False)
                     if isinstance(mod, self.bn_types) or n == "bias"}
            param_groups.append({"params": [p for p in params if id(p) not in no_wd], "weight_decay": 0.01})
            param_groups.append({"params": [p for p in params if id(p) in no_wd], "weight_decay": 0.0})
        self.opt = torch.optim.AdamW(param_groups, lr=1e-3, betas=(0.9, 0.99), eps=1e-5)
        self.frozen = 0

    def freeze_to(self, n):
        self.frozen = n
        for gi, g in enumerate(self.groups):
            for m in g:
                for mod in m.modules():
                    for p in mod.parameters(recurse=False):
                        p.requires_grad = gi >= n or (self.train_bn and isinstance(mod, self.bn_types))
        self.opt.state.clear()

    def set_train_mode(self):
        self.model.train()
        if self.bn_freeze:  # fastai's BnFreeze: BN layers whose params don't train run in eval mode
            for mod in self.model.modules():
                if isinstance(mod, self.bn_types) and not next(mod.parameters()).requires_grad:
                    mod.eval()

    def fit_one_cycle(self, n_epoch, lrs, train_dl, valid_dl, pct_start=0.25, div=25.0, div_final=1e5, moms=(0.95, 0.85, 0.95)):
        total = n_epoch * len(train_dl)
        it = 0
        times = []
        loss_fn = nn.CrossEntropyLoss()
        for _ in range(n_epoch):
            t0 = time.perf_counter()
            self.set_train_mode()
            for x, y in train_dl:
                pos = it / total
                mom = comb_cos(pct_start, moms[0], moms[1], moms[2], pos)
                for k, pg in enumerate(self.opt.param_groups):
                    hi = lrs[k // 2]
                    pg["lr"] = comb_cos(pct_start, hi / div, hi, hi / div_final, pos)
                    pg["betas"] = (mom, 0.99)
                loss = loss_fn(self.model(x), y)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                it += 1
            acc = self.validate(valid_dl)
            times.append(time.perf_counter() - t0)
            print(json.dumps({"epoch_seconds": times[-1], "accuracy": acc, "loss": loss.item()}), file=__import__("sys").stderr)
        return times, acc

    @torch.no_grad()
    def validate(self, dl):
        self.model.eval()
        correct = n = 0
        for x, y in dl:
            correct += (self.model(x).argmax(1) == y).sum().item()
            n += len(y)
        return correct / n


def even_slice(lo, hi, n):
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--config", default="default")
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--freeze-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    t0 = time.perf_counter()
    rows, vocab = load_rows(a.data)
    train = Images(a.data, [r for r in rows if r["is_valid"] != "1"], vocab, a.size)
    valid = Images(a.data, [r for r in rows if r["is_valid"] == "1"], vocab, a.size)
    g = torch.Generator().manual_seed(a.seed)
    train_dl = torch.utils.data.DataLoader(train, batch_size=a.bs, shuffle=True, drop_last=True, generator=g)
    valid_dl = torch.utils.data.DataLoader(valid, batch_size=a.bs)

    net = torchvision.models.resnet18()
    body = nn.Sequential(*list(net.children())[:-2])
    head = fastai_head(512, len(vocab))
    model = nn.Sequential(body, head)
    groups = [list(body[:6]), list(body[6:]), [head]]
    cached = a.config == "cached"
    tr = Trainer(model, groups, train_bn=not cached, bn_freeze=cached)

    base_lr = 2e-3
    tr.freeze_to(len(groups) - 1)
    frozen_times, _ = tr.fit_one_cycle(a.freeze_epochs, [base_lr / 10, base_lr / 10, base_lr], train_dl, valid_dl, pct_start=0.99)
    tr.freeze_to(0)
    lr = base_lr / 2
    unfrozen_times, acc = tr.fit_one_cycle(a.epochs, even_slice(lr / 100, lr, 3), train_dl, valid_dl, pct_start=0.3, div=5.0)
    print(json.dumps({
        "framework": "pytorch",
        "config": a.config,
        "backend": f"PyTorch {torch.__version__}, {a.threads} threads",
        "epochSeconds": frozen_times + unfrozen_times,
        "frozenSeconds": sum(frozen_times),
        "unfrozenSeconds": sum(unfrozen_times),
        "totalSeconds": time.perf_counter() - t0,
        "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "accuracy": acc,
    }))


if __name__ == "__main__":
    main()
