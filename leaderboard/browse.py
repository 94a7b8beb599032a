"""The failure browser: the K worst samples of a result (or the K that regressed
most against a baseline), each drawn as image + ground truth + prediction +
prompt, written as static HTML that works from file:// and any web server.

A number says a model got worse; a picture says why. Only the K samples shown
are decoded and drawn, so a COCO-sized result costs what K pictures cost.
Per-task drawing lives in views registered with :func:`register_view`
(``browse_views.py``); a new task plugs in by registering its own.
"""

from __future__ import annotations

import html
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from psalm_bench.errors import InputError
from psalm_bench.jsonio import load_json
from psalm_bench.leaderboard.browse_draw import hex_colour, thumbnail, write_png

ASSETS = Path(__file__).resolve().parent / "site_assets"
CONFUSION_MAX_IMAGES = 1000  # panoptic's segment confusion re-reads every image: ~18 ms per 640x480 image here, ~18 s at this count
CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'"


@dataclass
class Sample:
    """One scored sample: ``score`` orders it (lower is worse), ``key`` pairs it with a baseline's."""

    key: str
    score: float
    title: str
    metrics: dict[str, Any]
    fields: dict[str, str] = field(default_factory=dict)
    handle: Any = None


@dataclass
class Picture:
    """What a view draws for one sample."""

    image: np.ndarray
    legend: list[tuple[tuple[int, int, int], str]]
    prompt: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    table: list[list[str]] = field(default_factory=list)  # header row first; e.g. matched segments
    strip: np.ndarray | None = None


@dataclass
class BrowseInputs:
    task: str
    gt: Path
    pred: Path
    images: Path | None
    params: dict[str, Any]


class TaskView:
    """Reads a result's per-sample records and draws one sample from the GT and prediction files."""

    score_name = "IoU"
    filters: tuple[str, ...] = ()

    def __init__(self, inputs: BrowseInputs):
        self.inputs = inputs

    def samples(self, result: dict[str, Any], source: Path) -> list[Sample]:
        raise NotImplementedError

    def draw(self, sample: Sample) -> Picture:
        raise NotImplementedError

    def hashed_inputs(self) -> tuple[list[Path], list[Path]]:
        """The files whose digests the result's provenance holds (as `eval --json` hashed them)."""
        return [self.inputs.gt], [self.inputs.pred]


VIEWS: dict[str, type[TaskView]] = {}


def register_view(*tasks: str) -> Callable[[type[TaskView]], type[TaskView]]:
    def add(cls: type[TaskView]) -> type[TaskView]:
        for task in tasks:
            VIEWS[task] = cls
        return cls

    return add


@dataclass
class BrowseReport:
    out: Path
    task: str
    n_samples: int
    shown: int
    seconds: float

    def describe(self) -> str:
        return f"{self.shown} of {self.n_samples} {self.task} samples drawn into {self.out} ({self.seconds:.1f} s); open {self.out / 'index.html'}"


def browse(
    result_path: Path,
    gt: Path | None,
    pred: Path | None,
    out: Path,
    *,
    worst: int = 20,
    baseline: Path | None = None,
    images: Path | None = None,
    filters: dict[str, str] | None = None,
    progress: bool = False,
    back: tuple[str, str] | None = None,
) -> BrowseReport:
    """Write the browse pages for ``result_path`` into ``out`` (replaced if it holds an earlier browse).

    ``gt`` / ``pred`` default to the files the result's provenance names."""
    start = time.perf_counter()
    result = _load_result(result_path)
    task = result["task"]
    gt, pred = recorded_inputs(result, result_path, gt, pred)
    _views()
    view_cls = VIEWS.get(task)
    if view_cls is None:
        raise InputError(f"task {task!r} has no browse view (browsable: {', '.join(sorted(VIEWS))})", file=result_path)
    params = result.get("provenance", {}).get("params", {}) or {}
    view = view_cls(BrowseInputs(task, Path(gt), Path(pred), images, dict(params)))
    gt_files, pred_files = view.hashed_inputs()
    _check_hash(result, result_path, "gt_sha256", gt_files, "ground truth")
    _check_hash(result, result_path, "pred_sha256", pred_files, "prediction")
    samples = _filtered(view.samples(result, result_path), filters or {}, view, result_path)
    deltas: dict[str, float] = {}
    if baseline is not None:
        base = _load_result(baseline)
        if base["task"] != task:
            raise InputError(f"baseline is a {base['task']!r} result, not {task!r}", file=baseline)
        before = {s.key: s.score for s in view.samples(base, baseline)}
        paired = [s for s in samples if s.key in before]
        if not paired:
            raise InputError("baseline shares no sample with the result", file=baseline)
        deltas = {s.key: s.score - before[s.key] for s in paired}
        chosen = sorted(paired, key=lambda s: (deltas[s.key], s.key))[:worst]
    else:
        chosen = sorted(samples, key=lambda s: (s.score, s.key))[:worst]
    _prepare_out(out)
    pictures = []
    for rank, sample in enumerate(tqdm(chosen, desc="browse", unit="sample", disable=not progress)):
        picture = view.draw(sample)
        write_png(picture.image, out / "img" / f"{rank:04d}.png")
        write_png(thumbnail(picture.image), out / "img" / f"{rank:04d}-t.png")
        if picture.strip is not None:
            write_png(picture.strip, out / "img" / f"{rank:04d}-strip.png")
        pictures.append(picture)
    title = f"{task}: {'most regressed' if baseline else 'worst'} {len(chosen)} of {len(samples)} samples by {view.score_name}"
    from psalm_bench.leaderboard.plots import write_plots

    scored: tuple[Path, Path] | None = (view.inputs.gt, view.inputs.pred)
    plots: list[Any] = []
    n_images = int(result.get("n_samples") or 0)
    if task == "panoptic" and n_images > CONFUSION_MAX_IMAGES:  # the segment confusion reads every image again
        scored = None
        plots.append(f"No segment confusion matrix: it reads all {n_images} images again (browse draws it up to {CONFUSION_MAX_IMAGES}); "
                     "psalm_bench.leaderboard.plots.write_plots(result, path, out, (gt, pred)) draws it")
    try:
        plots += write_plots(result, result_path, out / "plots", scored, progress)
    except InputError as exc:  # an older result without what a plot needs: the gallery still stands
        plots.append(f"No plots: {exc}")
    _write_pages(out, title, result_path, baseline, chosen, pictures, deltas, view.score_name, back, plots)
    return BrowseReport(out, task, len(samples), len(chosen), time.perf_counter() - start)


def recorded_inputs(result: dict[str, Any], path: Path, gt: Path | None = None, pred: Path | None = None) -> tuple[Path, Path]:
    """The GT and prediction paths: those given, else the first file of each in ``provenance.inputs``."""
    inputs = (result.get("provenance") or {}).get("inputs")
    for name, given in (("gt", gt), ("pred", pred)):
        if given is None:
            names = inputs.get(name) if isinstance(inputs, dict) else None
            if not (isinstance(names, list) and names and isinstance(names[0], str)):
                raise InputError(f"provenance names no {name} file (result written before psalm-bench recorded its inputs); pass --{name}", file=path)
    chosen = [Path(given) if given is not None else Path(inputs[name][0]) for name, given in (("gt", gt), ("pred", pred))]
    return chosen[0], chosen[1]


def _views() -> None:
    """Register the bundled views (imported here so a task's own module can register more)."""
    import psalm_bench.leaderboard.browse_instance  # noqa: F401
    import psalm_bench.leaderboard.browse_segments  # noqa: F401
    import psalm_bench.leaderboard.browse_views  # noqa: F401


def _load_result(path: Path) -> dict[str, Any]:
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("task"), str):
        raise InputError("not a psalm-bench result (no 'task')", file=path)
    _views()
    if data["task"] in VIEWS and data.get("records") is None:
        if data["task"] in ("instance", "ov-instance"):
            raise InputError("the result has no per-image match 'records'; re-run eval --json with --records", file=path)
        raise InputError("the result has no per-sample 'records' (written by an older psalm-bench?); re-run eval --json", file=path)
    return data


def _check_hash(result: dict[str, Any], path: Path, key: str, files: list[Path], what: str) -> None:
    from psalm_bench.results import _hash_inputs

    expected = result.get("provenance", {}).get(key)
    for f in files:
        if not f.exists():
            raise InputError(f"the {what} {f} is not there (moved?); pass where it is now", file=path)
    if not expected:
        raise InputError(f"provenance has no {key}: cannot tell whether {files[0]} is the {what} it was scored on", file=path)
    actual = _hash_inputs(files if len(files) > 1 else files[0])
    if actual != expected:
        raise InputError(f"the {what} {files[0]} changed since it was scored (sha256 {actual[:12]}, provenance {expected[:12]})", file=path)


def _filtered(samples: list[Sample], filters: dict[str, str], view: TaskView, path: Path) -> list[Sample]:
    for name, value in filters.items():
        if name not in view.filters:
            raise InputError(f"--{name} does not apply to this task (its filters: {', '.join(view.filters) or 'none'})", file=path)
        samples = [s for s in samples if s.fields.get(name) == value]
    return samples


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not (out / ".psalm-browse").is_file():
            if any(out.iterdir()):
                raise InputError("output folder exists and is not an earlier browse; choose an empty one", file=out)
        else:
            shutil.rmtree(out)
    (out / "s").mkdir(parents=True)
    (out / "img").mkdir()
    (out / ".psalm-browse").write_text("written by psalm-bench browse; replaced by the next one\n")
    for asset in ("browse.css", "browse.js"):
        shutil.copyfile(ASSETS / asset, out / asset)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def _head(title: str, prefix: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f'<link rel="stylesheet" href="{prefix}browse.css">\n'
        f'<script src="{prefix}browse.js" defer></script>\n'
    )


def _write_pages(out: Path, title: str, result_path: Path, baseline: Path | None, chosen: list[Sample],
                 pictures: list[Picture], deltas: dict[str, float], score_name: str, back: tuple[str, str] | None = None,
                 plots: list[Any] | None = None) -> None:
    cards = []
    for rank, (sample, picture) in enumerate(zip(chosen, pictures)):
        delta = f' <span class="delta">&Delta; {_fmt(deltas[sample.key])}</span>' if sample.key in deltas else ""
        cards.append(
            f'<li><a class="card" href="s/{rank:04d}.html" data-rank="{rank}">'
            f'<img src="img/{rank:04d}-t.png" alt="{_e(sample.title)}">'
            f'<span class="cap">#{rank + 1} {_e(sample.title)}</span>'
            f'<span class="score">{_e(score_name)} {_fmt(sample.score)}{delta}</span></a></li>'
        )
    against = f" against baseline {_e(baseline.name)}" if baseline else ""
    index = (
        _head(title, "") + "</head><body>\n"
        + (f'<nav><a href="{_e(back[0])}">&larr; {_e(back[1])}</a></nav>\n' if back else "")
        + f"<h1>{_e(title)}</h1>\n<p class=\"meta\">result {_e(result_path.name)}{against}; "
        "<kbd>j</kbd>/<kbd>k</kbd> or arrows move, <kbd>Enter</kbd> opens</p>\n"
        f'<ol class="grid">{"".join(cards)}</ol>\n{_plots_section(plots or [])}</body></html>\n'
    )
    (out / "index.html").write_text(index, encoding="utf-8")
    for rank, (sample, picture) in enumerate(zip(chosen, pictures)):
        (out / "s" / f"{rank:04d}.html").write_text(
            _sample_page(rank, len(chosen), sample, picture, deltas.get(sample.key), score_name, title), encoding="utf-8")


def _plots_section(plots: list[Any]) -> str:
    """The result's plots (leaderboard/plots.py) below the gallery, each linked to its full-size PNG."""
    if not plots:
        return ""
    notes = "".join(f'<p class="note">{_e(p)}</p>\n' for p in plots if isinstance(p, str))  # why a plot is not there
    figures = "".join(
        f'<figure class="plot"><h3>{_e(p.title)}</h3><a href="plots/{_e(p.name)}"><img src="plots/{_e(p.name)}" alt="{_e(p.title)}"></a>'
        f"<figcaption>{_e(p.caption)}</figcaption></figure>\n" for p in plots if not isinstance(p, str))
    return f'<section class="plots"><h2>Plots</h2>\n{notes}{figures}</section>\n'


def _sample_page(rank: int, total: int, sample: Sample, picture: Picture, delta: float | None, score_name: str, title: str) -> str:
    links = ['<link rel="index" href="../index.html">']
    nav = ['<a href="../index.html">all</a>']
    if rank > 0:
        links.append(f'<link rel="prev" href="{rank - 1:04d}.html">')
        nav.insert(0, f'<a rel="prev" href="{rank - 1:04d}.html">&larr; prev (k)</a>')
    if rank + 1 < total:
        links.append(f'<link rel="next" href="{rank + 1:04d}.html">')
        nav.append(f'<a rel="next" href="{rank + 1:04d}.html">next (j) &rarr;</a>')
    legend = "".join(f'<li><span class="sw" data-c="{hex_colour(c)}"></span>{_e(label)}</li>' for c, label in picture.legend)
    metrics = dict(sample.metrics)
    if delta is not None:
        metrics[f"{score_name} change vs baseline"] = delta
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>" for k, v in metrics.items())
    prompt = "".join(f'<p class="prompt">{_e(p)}</p>' for p in picture.prompt)
    notes = "".join(f'<p class="note">{_e(n)}</p>' for n in picture.notes)
    table = ""
    if picture.table:
        head, *body = picture.table
        table = ('<table class="segs"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr></thead><tbody>"
                 + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in body) + "</tbody></table>")
    strip = f'<figure><img src="../img/{rank:04d}-strip.png" alt="per-frame strip"><figcaption>per frame</figcaption></figure>' if picture.strip is not None else ""
    return (
        _head(f"#{rank + 1} {sample.title}", "../") + "".join(links) + "\n</head><body>\n"
        f'<nav>{" ".join(nav)}</nav>\n<h1>#{rank + 1} of {total}: {_e(sample.title)}</h1>\n<p class="meta">{_e(title)}</p>\n'
        f'<div class="view"><figure><a href="../img/{rank:04d}.png"><img src="../img/{rank:04d}.png" alt="{_e(sample.title)}"></a></figure>\n'
        f'<div class="side"><ul class="legend">{legend}</ul>{prompt}{notes}<table class="metrics">{rows}</table>{table}</div></div>\n'
        f"{strip}\n</body></html>\n"
    )
