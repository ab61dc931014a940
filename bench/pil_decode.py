"""PIL reference for bench/decode.ts: what fastai's loader does per image.

PILImage.create (open + convert('RGB')), Resize to size×size (bilinear, squish), to a
uint8 array; one process, then a pool of `--workers` processes as fastai's DataLoader
(one worker per core). Prints JSON lines.
"""
import argparse
import json
import os
import time
from multiprocessing import Pool

import numpy as np
from PIL import Image

SIZE = 224


def load(path):
    img = Image.open(path).convert("RGB").resize((SIZE, SIZE), Image.BILINEAR)
    return np.asarray(img).shape


def main():
    global SIZE
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--workers", type=int, default=os.cpu_count())
    a = p.parse_args()
    SIZE = a.size
    files = sorted(os.path.join(a.dir, f) for f in os.listdir(a.dir) if f.endswith(".jpg"))
    t0 = time.perf_counter()
    for f in files:
        load(f)
    one = time.perf_counter() - t0
    print(json.dumps({"name": "PIL, 1 process", "images": len(files), "seconds": one}), flush=True)
    with Pool(a.workers) as pool:
        pool.map(load, files[: a.workers * 4])  # start the workers
        t0 = time.perf_counter()
        pool.map(load, files, chunksize=16)
        many = time.perf_counter() - t0
    print(json.dumps({"name": f"PIL, {a.workers} processes (fastai: one worker per core)", "images": len(files), "seconds": many}), flush=True)


if __name__ == "__main__":
    main()
