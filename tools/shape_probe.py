#!/usr/bin/env python3
"""Does a vision tower see shape? A linear probe on mask-pooled features of the world's things.

The world's thing classes differ only by shape (colour and texture are drawn per object),
so a class head can only name them from features that carry shape. For each thing
instance of ``--scenes`` train scenes this pools each stage's feature map under the
instance's mask, then fits a ridge classifier (one-hot targets) in 5 folds and prints
the held-out accuracy per stage and for all stages joined, beside the majority class.

    python tools/shape_probe.py --model bundled            # the bundled model's Swin
    python tools/shape_probe.py --config bundled-lite0     # the pretrained EfficientNet-Lite0
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def pooled_features(tower, scenes, image_size: int) -> tuple[list[np.ndarray], np.ndarray]:
    import torch
    import torch.nn.functional as F

    from psalm_bench.model.preprocess import preprocess_image

    per_stage: list[list[np.ndarray]] = []
    labels: list[int] = []
    for scene in scenes:
        pixels, _, geometry = preprocess_image(scene.image, image_size)
        with torch.no_grad():
            feats = tower(pixels[None])
        h, w = scene.image.shape[:2]
        for thing in scene.things:
            if thing.iscrowd or thing.area < 16:
                continue
            mask = np.zeros((image_size, image_size), np.float32)
            scale = image_size / max(h, w)
            nh, nw = round(h * scale), round(w * scale)
            small = torch.from_numpy(thing.mask.astype(np.float32))[None, None]
            mask_t = F.interpolate(small, size=(nh, nw), mode="bilinear", align_corners=False)[0, 0]
            mask[:nh, :nw] = mask_t.numpy()
            row = []
            for f in feats:
                m = F.interpolate(torch.from_numpy(mask)[None, None], size=f.shape[-2:], mode="area")[0, 0]
                weight = m / m.sum().clamp_min(1e-6)
                row.append((f[0] * weight).sum((1, 2)).numpy())
            per_stage.append(row)
            labels.append(thing.category_id)
    stages = [np.stack([r[i] for r in per_stage]) for i in range(len(per_stage[0]))]
    return stages, np.asarray(labels)


def probe_accuracy(x: np.ndarray, y: np.ndarray, *, folds: int = 5, ridge: float = 1.0, seed: int = 0) -> float:
    classes = np.unique(y)
    order = np.random.default_rng(seed).permutation(len(y))
    correct = 0
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        a = np.hstack([(x[train] - mu) / sd, np.ones((len(train), 1))])
        b = (y[train][:, None] == classes[None]).astype(np.float64)
        w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ b)
        pred = classes[(np.hstack([(x[test] - mu) / sd, np.ones((len(test), 1))]) @ w).argmax(1)]
        correct += int((pred == y[test]).sum())
    return correct / len(y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="bundled, or a folder written by `psalm-bench train`: its trained tower")
    source.add_argument("--config", help="a config name: its freshly built tower (pretrained where the config says so)")
    parser.add_argument("--scenes", type=int, default=60, help="train scenes to draw instances from [default: 60]")
    parser.add_argument("--seed", type=int, default=0, help="world seed [default: 0]")
    args = parser.parse_args(argv)

    import torch

    from psalm_bench.generators.world_scene import generate_scene
    from psalm_bench.model.config import get_config
    from psalm_bench.model.psalm import PSALM
    from psalm_bench.model.recipe import world_tokenizer

    torch.manual_seed(0)
    if args.model:
        from psalm_bench.model.checkpoint import load_model
        from psalm_bench.model.predict import resolve_model_dir

        model, _, _ = load_model(resolve_model_dir(args.model))
        name = args.model
    else:
        model = PSALM(get_config(args.config), world_tokenizer())
        name = args.config
    model.eval()
    scenes = [generate_scene(args.seed, "train", i) for i in range(args.scenes)]
    stages, labels = pooled_features(model.vision_tower, scenes, model.config.image_size)
    majority = np.bincount(labels).max() / len(labels)
    print(f"{name}: {len(labels)} thing instances of {len(np.unique(labels))} classes from {args.scenes} scenes; majority class {majority:.3f}")
    for i, x in enumerate(stages):
        print(f"  stage {i + 1} (stride {4 * 2**i}, {x.shape[1]} ch): probe accuracy {probe_accuracy(x, labels):.3f}")
    print(f"  all stages joined: probe accuracy {probe_accuracy(np.hstack(stages), labels):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
