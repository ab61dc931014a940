"""Writes torchvision nets with random weights as the model hub's safetensors files,
plus an input, the eval-mode logits and the body's features, for
test/vision/parity.test.ts (and the webgpu test). Run with Debian's /usr/bin/python3.

Each file holds the whole `state_dict()` exactly as torch produces it: every buffer,
BatchNorm's `num_batches_tracked` as I64, under the key names of the hub repository
fastvision downloads from (torchvision's for timm's `*.tv_in1k` ResNets, timm's own
for `mobilenetv2_100`). The format is written here by hand (header length, JSON
header, raw little-endian data), so the test needs no `safetensors` Python package.
Two variants of resnet18: `resnet18.dtypes` stores two used tensors as F64 and U8 (to
be converted); `resnet18.c64` stores `fc.bias` as complex64, a dtype safetensors does
not define (to be refused by name).
"""
import json
import struct
import sys

import torch
import torchvision

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL", torch.complex64: "C64",
}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def timm_mobilenetv2_key(key):
    """torchvision's mobilenet_v2 key -> timm's mobilenetv2_100 key (timm's module tree)."""
    parts = key.split(".")
    if parts[0] == "classifier":
        return "classifier." + parts[-1]
    feature = int(parts[1])
    if feature in (0, 18):
        module = {0: ("conv_stem", "bn1"), 18: ("conv_head", "bn2")}[feature][int(parts[2])]
        return f"{module}.{parts[-1]}"
    stages = [1, 2, 3, 4, 3, 3, 1]
    first, stage = 1, 0
    while feature >= first + stages[stage]:
        first += stages[stage]
        stage += 1
    block = feature - first
    sub = ".".join(parts[3:-1])  # inside `conv`
    names = (
        {"0.0": "conv_dw", "0.1": "bn1", "1": "conv_pw", "2": "bn2"}
        if stage == 0
        else {"0.0": "conv_pw", "0.1": "bn1", "1.0": "conv_dw", "1.1": "bn2", "2": "conv_pwl", "3": "bn3"}
    )
    return f"blocks.{stage}.{block}.{names[sub]}.{parts[-1]}"


def body_of(name, model):
    """What fastvision's body outputs: fastai's create_body cut (the ResNet before its pool)."""
    if name.startswith("resnet"):
        return torch.nn.Sequential(*list(model.children())[:-2])
    return model.features


def main(out_dir, size, only=None):
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    for name, variant in [("resnet18", ""), ("resnet34", ""), ("resnet50", ""), ("mobilenet_v2", ""), ("resnet18", "dtypes"), ("resnet18", "c64")]:
        if only and (variant or name not in only):
            continue
        model = getattr(torchvision.models, name)()
        # BatchNorm starts as identity; random statistics make its conversion matter.
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(1234)
        if variant == "dtypes":
            # Values a U8 holds exactly, so both sides compute with the same numbers.
            model.bn1.running_var.copy_(torch.randint(1, 4, model.bn1.running_var.shape).float())
        model.eval()
        with torch.no_grad():
            logits = model(x)
            features = body_of(name, model)(x)
        state = model.state_dict()
        assert any(v.dtype == torch.int64 for v in state.values()), "torch's BatchNorm keeps num_batches_tracked as int64"
        if variant == "dtypes":
            state["fc.weight"] = state["fc.weight"].double()
            state["bn1.running_var"] = state["bn1.running_var"].to(torch.uint8)
        if variant == "c64":
            state["fc.bias"] = state["fc.bias"].to(torch.complex64)
        if name == "mobilenet_v2":
            state = {timm_mobilenetv2_key(k): v for k, v in state.items()}
        stem = f"{name}.{variant}" if variant else name
        write_safetensors(f"{out_dir}/{stem}.safetensors", state, {"format": "pt"})
        write_safetensors(f"{out_dir}/{stem}.io.safetensors", {"input": x, "logits": logits, "features": features})
        print(stem, float(logits.abs().max()), flush=True)


if __name__ == "__main__":
    # An optional third argument lists the plain nets to write (e.g. resnet18,mobilenet_v2), nothing else.
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",") if len(sys.argv) > 3 else None)
