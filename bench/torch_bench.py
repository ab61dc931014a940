"""PyTorch reference for bench/train-step.ts: the same nets, batch, size and step.

Prints one JSON object per (net, task) on stdout. Run with Debian's /usr/bin/python3
(python3-torch, python3-torchvision).
"""
import argparse
import json
import statistics
import time

import torch
import torchvision

NETS = {"resnet18": torchvision.models.resnet18, "mobilenetV2": torchvision.models.mobilenet_v2}


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nets", default="resnet18,mobilenetV2")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, 1000, (a.batch,))
    for name in a.nets.split(","):
        model = NETS[name]()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = torch.nn.CrossEntropyLoss()

        def train_step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()

        def infer():
            with torch.no_grad():
                model(x)

        model.train()
        t = timed(train_step, a.warmup, a.steps)
        print(json.dumps({"net": name, "task": "train", "seconds": t}), flush=True)
        model.eval()
        t = timed(infer, a.warmup, a.steps)
        print(json.dumps({"net": name, "task": "inference", "seconds": t}), flush=True)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)


if __name__ == "__main__":
    main()
