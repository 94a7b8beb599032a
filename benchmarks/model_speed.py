"""Measure a config's size and CPU/GPU speed: parameters, fp16 file size, train step, eval throughput.

``python benchmarks/model_speed.py --config bundled --threads 2`` prints one JSON object.
Scenes are random rectangles (the numbers depend on shapes, not on content).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from psalm_bench.model.checkpoint import WEIGHTS_FILE, save_model
from psalm_bench.model.config import PSALMConfig, get_config
from psalm_bench.model.criterion import PSALMCriterion
from psalm_bench.model.psalm import PSALM
from psalm_bench.model.samples import TrainSample, collate
from psalm_bench.model.toy import random_samples
from psalm_bench.model.tokenizer import build_tokenizer

CLASSES = ["circle", "square", "triangle", "star", "hexagon", "ring", "cross", "heart", "sky", "grass"]


def synthetic_samples(task: str, n: int, size: int, seed: int = 0) -> list[TrainSample]:
    return random_samples(task, n, size, seed, classes=CLASSES)


def measure(config: PSALMConfig, *, batch: int = 8, threads: int | None = 2, steps: int = 3,
            eval_images: int = 16, device: str = "cpu") -> dict:
    if threads:
        torch.set_num_threads(threads)
    tok = build_tokenizer(CLASSES + ["the red circle left of the big blue square"])
    torch.manual_seed(0)
    model = PSALM(config, tok).to(device)
    res: dict = {"config": config.name, "image_size": config.image_size, "threads": torch.get_num_threads(),
                 "device": device, "params": model.parameter_counts()}
    with tempfile.TemporaryDirectory() as d:
        save_model(model, d, {})
        res["fp16_file_mb"] = round((Path(d) / WEIGHTS_FILE).stat().st_size / 1e6, 2)
    crit = PSALMCriterion(config.loss)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    train_times, train_cpu = {}, {}
    for task in ("panoptic", "referring", "interactive"):
        samples = synthetic_samples(task, batch, config.image_size)
        times, cpu = [], []
        for s in range(steps + 1):
            t0, c0 = time.perf_counter(), time.process_time()
            b = collate(samples, config, tok, True, np.random.default_rng(s)).to(device)
            loss = crit(model(b), b)
            opt.zero_grad()
            loss.total.backward()
            opt.step()
            if device != "cpu":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        train_times[task] = round(float(np.median(times[1:])), 3)  # first step warms up
        train_cpu[task] = round(float(np.median(cpu[1:])), 3)
    res["train_step_seconds"] = train_times
    res["train_step_cpu_seconds"] = train_cpu
    res["train_batch"] = batch
    model.eval()
    eval_rate, eval_cpu = {}, {}
    for task in ("panoptic", "referring", "interactive"):
        samples = synthetic_samples(task, eval_images, config.image_size, seed=1)
        with torch.no_grad():
            b = collate(samples[:batch], config, tok, False).to(device)
            model(b)  # warm-up
            t0, c0 = time.perf_counter(), time.process_time()
            for i in range(0, eval_images, batch):
                b = collate(samples[i : i + batch], config, tok, False).to(device)
                model(b)
            if device != "cpu":
                torch.cuda.synchronize()
        eval_rate[task] = round(eval_images / (time.perf_counter() - t0), 2)
        eval_cpu[task] = round((time.process_time() - c0) / eval_images, 4)
    res["eval_images_per_second"] = eval_rate
    res["eval_cpu_seconds_per_image"] = eval_cpu
    res["load_average"] = [round(x, 2) for x in __import__("os").getloadavg()]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", default="bundled")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--eval-images", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    print(json.dumps(measure(get_config(a.config), batch=a.batch, threads=a.threads, steps=a.steps,
                             eval_images=a.eval_images, device=a.device), indent=2))


if __name__ == "__main__":
    main()
