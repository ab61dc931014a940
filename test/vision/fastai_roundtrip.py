"""fastai's model tree for a vision learner, built here from torchvision and the layout
fastai's `vision_learner` produces (not imported from fastai), for
test/vision/fastaiRoundtrip.test.ts. Run with Debian's /usr/bin/python3.

  write <dir>   for each case, random weights with random BatchNorm statistics and
                counters: <case>.fastai.safetensors, fastai's `learn.model.state_dict()`
                with every buffer (num_batches_tracked as I64) and the vocab as metadata
  check <dir>   reads <case>.input.safetensors (a normalised NCHW batch fastvision made);
                writes <case>.torch.safetensors: the logits of the model with
                <case>.fastai.safetensors and, loaded with strict=True,
                with <case>.fastvision.safetensors (what fastvision's save wrote)

The layout:
- ResNets: `nn.Sequential(body, head)`, body = `nn.Sequential(*list(resnet.children())[:-2])`
  (fastai's `create_body` with `model_meta`'s cut -2).
- MobileNetV2: fastai's `vision_learner(dls, 'mobilenetv2_100')` wraps timm's model in
  `TimmBody` (`0.model.*`, timm's module names, `num_classes=0` so no classifier). Debian has
  no timm: the module tree below re-registers torchvision's mobilenet_v2 modules under
  timm's names, so `state_dict()` and `load_state_dict(strict=True)` see timm's keys and
  the forward pass is torchvision's (the same network).
- Head: `create_head` flattened into one Sequential: pool, Flatten, then per linear layer
  [BatchNorm1d] [Dropout if p > 0] Linear(bias=not bn) [ReLU], then [BatchNorm1d(bn_final)].
"""
import json
import struct
import sys

import numpy as np
import torch
import torchvision
from torch import nn

from torch_parity import timm_mobilenetv2_key, write_safetensors

VOCAB = ["dotted", "striped"]
CASES = {
    "resnet18": ("resnet18", {}),
    "resnet34": ("resnet34", {}),
    "resnet50": ("resnet50", {}),
    "mobilenetV2": ("mobilenet_v2", {}),
    "resnet18-head": ("resnet18", {"lin_ftrs": [256, 128], "concat_pool": False}),
}


class AdaptiveConcatPool2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.ap, self.mp = nn.AdaptiveAvgPool2d(1), nn.AdaptiveMaxPool2d(1)

    def forward(self, x):
        return torch.cat([self.mp(x), self.ap(x)], 1)


class Flatten(nn.Module):
    def forward(self, x):
        return x.view(x.size(0), -1)


def create_head(nf, n_out, lin_ftrs=None, ps=0.5, concat_pool=True, first_bn=True, bn_final=False):
    if concat_pool:
        nf *= 2
    ftrs = [nf] + (lin_ftrs if lin_ftrs is not None else [512]) + [n_out]
    bns = [first_bn] + [True] * (len(ftrs) - 2)
    ps = [ps / 2] * (len(ftrs) - 2) + [ps]
    layers = [AdaptiveConcatPool2d() if concat_pool else nn.AdaptiveAvgPool2d(1), Flatten()]
    for i, (ni, no, bn, p) in enumerate(zip(ftrs[:-1], ftrs[1:], bns, ps)):
        if bn:
            layers.append(nn.BatchNorm1d(ni))
        if p != 0:
            layers.append(nn.Dropout(p))
        layers.append(nn.Linear(ni, no, bias=not bn))
        if i < len(ftrs) - 2:
            layers.append(nn.ReLU(inplace=True))
    if bn_final:
        layers.append(nn.BatchNorm1d(ftrs[-1], momentum=0.01))
    return nn.Sequential(*layers)


class TimmMobileNetV2(nn.Module):
    """torchvision's mobilenet_v2 features under timm's module names (see the docstring)."""

    def __init__(self, tv):
        super().__init__()
        object.__setattr__(self, "features", tv.features)  # not registered: keys come from below
        modules = {}
        for name, module in tv.features.named_modules():
            if isinstance(module, (nn.Conv2d, nn.BatchNorm2d)):
                modules[timm_mobilenetv2_key(f"features.{name}.weight").rsplit(".", 1)[0]] = module
        for path, module in modules.items():
            parent = self
            *parents, leaf = path.split(".")
            for p in parents:
                if p not in parent._modules:
                    parent.add_module(p, nn.Module())
                parent = parent._modules[p]
            parent.add_module(leaf, module)

    def forward(self, x):
        return self.features(x)


class TimmBody(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


def fastai_model(case):
    arch, head = CASES[case]
    tv = getattr(torchvision.models, arch)()
    if arch.startswith("resnet"):
        body, nf = nn.Sequential(*list(tv.children())[:-2]), tv.fc.in_features
    else:
        body, nf = TimmBody(TimmMobileNetV2(tv)), 1280
    return nn.Sequential(body, create_head(nf, len(VOCAB), **head))


def randomise(model):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.2)
            m.running_mean.normal_(0, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(int(torch.randint(1, 10_000, ())))
        elif isinstance(m, nn.Linear):
            m.weight.data.normal_(0, (1 / m.in_features) ** 0.5)
            if m.bias is not None:
                m.bias.data.normal_(0, 0.1)


NP = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    body = data[8 + n :]
    tensors = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        array = np.frombuffer(body[a:b], dtype=NP[h["dtype"]]).reshape(h["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, meta


def logits(model, x):
    model.eval()
    with torch.no_grad():
        return model(x)


def main(mode, out_dir):
    torch.manual_seed(0)
    for case in CASES:
        model = fastai_model(case)
        if mode == "write":
            randomise(model)
            state = model.state_dict()
            assert any(v.dtype == torch.int64 for v in state.values())
            write_safetensors(f"{out_dir}/{case}.fastai.safetensors", state, {"vocab": json.dumps(VOCAB)})
            print(case, len(state), "keys", flush=True)
            continue
        x = read_safetensors(f"{out_dir}/{case}.input.safetensors")[0]["input"]
        state, _ = read_safetensors(f"{out_dir}/{case}.fastai.safetensors")
        model.load_state_dict(state, strict=True)
        out = {"fastai": logits(model, x)}
        mine, meta = read_safetensors(f"{out_dir}/{case}.fastvision.safetensors")
        assert all(mine[k].dtype == torch.int64 for k in mine if k.endswith("num_batches_tracked")), "counters must be int64"
        fresh = fastai_model(case)
        fresh.load_state_dict(mine, strict=True)
        out["fastvision"] = logits(fresh, x)
        write_safetensors(f"{out_dir}/{case}.torch.safetensors", out, {"meta": json.dumps(meta)})
        print(case, "loaded strictly:", len(mine), "keys", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
