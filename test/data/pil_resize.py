"""PIL's side of test/data/resize.test.ts. Run with Debian's /usr/bin/python3.

Writes generated images (PNG, so decoding is exact; one JPEG) and, for each case,
what fastai's `Resize` makes of them with PIL: `img.crop(box).resize(size, BILINEAR)`
for squish and crop, torchvision's `pad` then resize for pad (fastai's `crop_pad`).
Prints one JSON line per case; the pixels go to `<out>/<case>.raw`.
"""
import json
import sys

import numpy as np
from PIL import Image
from torchvision.transforms.functional import pad as tv_pad


def photo(w, h, seed):
    """Gradients, noise and a fine checkerboard: smooth and sharp content."""
    r = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 / w, y * 255 / h, ((x + y) * 3) % 256], -1) + r.normal(0, 30, (h, w, 3))
    ys, xs = slice(h // 4, h // 2), slice(w // 4, w // 2)
    a[ys, xs] = ((x[ys, xs] // 3 + y[ys, xs] // 3) % 2 * 255)[..., None]
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def fastai_resize(img, size, method, pad_mode):
    """fastai's Resize.encodes + crop_pad, centred (pcts 0.5), with size = (w, h)."""
    w, h = img.size
    if method == "squish":
        return img.resize(size, Image.BILINEAR)
    ratio_w, ratio_h = w / size[0], h / size[1]
    op = (lambda a, b: a < b) if method == "crop" else (lambda a, b: a > b)
    m = ratio_w if op(ratio_w, ratio_h) else ratio_h
    cp = (int(m * size[0]), int(m * size[1]))
    tl = (int(0.5 * (w - cp[0])), int(0.5 * (h - cp[1])))
    if method == "crop":
        return img.crop((tl[0], tl[1], tl[0] + cp[0], tl[1] + cp[1])).resize(size, Image.BILINEAR)
    p = (max(-tl[0], 0), max(-tl[1], 0))
    f = (max(cp[0] - w + tl[0], 0), max(cp[1] - h + tl[1], 0))
    mode = {"reflection": "reflect", "border": "edge", "zeros": "constant"}[pad_mode]
    return tv_pad(img, [p[0], p[1], f[0], f[1]], padding_mode=mode).resize(size, Image.BILINEAR)


def main(out):
    cases = json.loads(sys.argv[2])
    for i, c in enumerate(cases):
        name = f"case{i}"
        img = photo(c["from"][0], c["from"][1], i)
        ext = c.get("format", "png")
        if ext == "jpg":
            img.save(f"{out}/{name}.jpg", quality=90)
            img = Image.open(f"{out}/{name}.jpg").convert("RGB")
        else:
            img.save(f"{out}/{name}.png")
        res = fastai_resize(img, tuple(c["to"]), c["method"], c.get("padMode", "reflection"))
        np.asarray(res, dtype=np.uint8).tofile(f"{out}/{name}.raw")
        print(json.dumps({"name": name, "file": f"{out}/{name}.{ext}"}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
