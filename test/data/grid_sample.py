"""fastai's AffineCoordTfm in PyTorch: affine_grid-style coordinates (align_corners=True),
mapped through each image's 3x3 matrix (affine then perspective, as fastai composes
affine_grid and _WarpCoord), then grid_sample. Reads a JSON case on stdin, writes the
output batch (NHWC, flat) as JSON."""
import json, sys
import torch
import torch.nn.functional as F

case = json.load(sys.stdin)
n, h, w, c = case["shape"]
oh, ow = case["size"]
x = torch.tensor(case["data"], dtype=torch.float32).view(n, h, w, c).permute(0, 3, 1, 2)
mats = torch.tensor(case["mats"], dtype=torch.float32).view(n, 3, 3)
ys, xs = torch.meshgrid(torch.linspace(-1, 1, oh), torch.linspace(-1, 1, ow), indexing="ij")
coords = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, -1, 3).expand(n, -1, -1)
mapped = coords @ mats.transpose(1, 2)
grid = (mapped[..., :2] / mapped[..., 2:]).view(n, oh, ow, 2)
out = F.grid_sample(x, grid, mode="bilinear", padding_mode=case["pad"], align_corners=True)
json.dump(out.permute(0, 2, 3, 1).reshape(-1).tolist(), sys.stdout)
