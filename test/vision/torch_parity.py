"""Writes torchvision nets with random weights as safetensors, plus an input and the
eval-mode logits, for test/vision/parity.test.ts. Run with Debian's /usr/bin/python3.

The safetensors format is written here by hand (header length, JSON header, raw
little-endian float32), so the test needs no `safetensors` Python package.
"""
import json
import struct
import sys

import torch
import torchvision


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main(out_dir, size):
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size)
    for name in ["resnet18", "resnet34", "mobilenet_v2"]:
        model = getattr(torchvision.models, name)()
        # BatchNorm starts as identity; random statistics make its conversion matter.
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
        model.eval()
        with torch.no_grad():
            logits = model(x)
        write_safetensors(f"{out_dir}/{name}.safetensors", model.state_dict())
        write_safetensors(f"{out_dir}/{name}.io.safetensors", {"input": x, "logits": logits})
        print(name, float(logits.abs().max()), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
