"""Pooled features for pipe's exec example: 4x4-pixel block means plus row and column profiles.

Usage: features.py INPUT_DIR OUT_DIR. Reads x_<split>.npy (float32 [N,28,28] in [0,1]) and writes
x_<split>.npy as float32 [N,D], copying the labels (y_<split>.npy) and classes.json unchanged, so
the output is a dataset that pipe's `split` and `train` stages read like their own.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np

src, out = Path(sys.argv[1]), Path(sys.argv[2])
dims = 0
for split in ("train", "test"):
    x = np.load(src / f"x_{split}.npy").astype(np.float32)
    x = x.reshape(x.shape[0], 28, 28)
    blocks = x.reshape(-1, 7, 4, 7, 4).mean(axis=(2, 4)).reshape(x.shape[0], -1)
    rows, cols = x.mean(axis=2), x.mean(axis=1)
    features = np.concatenate([blocks, rows, cols], axis=1).astype(np.float32)
    np.save(out / f"x_{split}.npy", features)
    shutil.copyfile(src / f"y_{split}.npy", out / f"y_{split}.npy")
    dims = features.shape[1]
    print(f"{split}: {features.shape[0]} images -> {dims} features")
if (src / "classes.json").exists():
    shutil.copyfile(src / "classes.json", out / "classes.json")
with open(out / "metrics.json", "w") as f:
    json.dump({"features": int(dims)}, f)
