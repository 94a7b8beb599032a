"""The failure browser: the K worst samples of a result (or the K that regressed
most against a baseline), each drawn as image + ground truth + prediction +
prompt, written as static HTML that works from file:// and any web server.

A number says a model got worse; a picture says why. Only the K samples shown
are decoded and drawn, so a COCO-sized result costs what K pictures cost.
Per-task drawing lives in views registered with :func:`register_view`
(``browse_views.py``); a new task plugs in by registering its own.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup
from tqdm import tqdm

from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import ResultFile, read_result
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
    # panoptic: the PNG folders it was scored with (None: the JSON's path without .json)
    gt_dir: Path | None = None
    pred_dir: Path | None = None


class TaskView:
    """Reads a result's per-sample records and draws one sample from the GT and prediction files."""

    score_name = "IoU"
    filters: tuple[str, ...] = ()

    def __init__(self, inputs: BrowseInputs):
        self.inputs = inputs

    def samples(self, result: ResultFile, source: Path) -> list[Sample]:
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
    gt_dir: Path | None = None,
    pred_dir: Path | None = None,
) -> BrowseReport:
    """Write the browse pages for ``result_path`` into ``out`` (replaced if it holds an earlier browse).

    ``gt`` / ``pred`` default to the files the result's provenance names; a
    panoptic result's PNG folders (``gt_dir`` / ``pred_dir``) to the folders it
    names beside a JSON taken from it, else the JSON's path without .json."""
    start = time.perf_counter()
    result = _load_result(result_path)
    task = result.task
    if task == "panoptic":
        gt_dir, pred_dir = recorded_png_dirs(result, gt, pred, gt_dir, pred_dir)
    gt, pred = recorded_inputs(result, result_path, gt, pred)
    _views()
    view_cls = VIEWS.get(task)
    if view_cls is None:
        raise InputError(f"task {task!r} has no browse view (browsable: {', '.join(sorted(VIEWS))})", file=result_path)
    view = view_cls(BrowseInputs(task, Path(gt), Path(pred), images, dict(result.params), gt_dir, pred_dir))
    gt_files, pred_files = view.hashed_inputs()
    _check_hash(result, result_path, "gt_sha256", gt_files, "ground truth")
    _check_hash(result, result_path, "pred_sha256", pred_files, "prediction")
    samples = _filtered(view.samples(result, result_path), filters or {}, view, result_path)
    deltas: dict[str, float] = {}
    if baseline is not None:
        base = _load_result(baseline)
        if base.task != task:
            raise InputError(f"baseline is a {base.task!r} result, not {task!r}", file=baseline)
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
    n_images = result.n_samples or 0
    if task == "panoptic" and n_images > CONFUSION_MAX_IMAGES:  # the segment confusion reads every image again
        scored = None
        plots.append(f"No segment confusion matrix: it reads all {n_images} images again (browse draws it up to {CONFUSION_MAX_IMAGES}); "
                     "psalm_bench.leaderboard.plots.write_plots(result, path, out, (gt, pred)) draws it")
    try:
        plots += write_plots(result, result_path, out / "plots", scored, progress, png_dirs=(view.inputs.gt_dir, view.inputs.pred_dir))
    except InputError as exc:  # an older result without what a plot needs: the gallery still stands
        plots.append(f"No plots: {exc}")
    _write_pages(out, title, result_path, baseline, chosen, pictures, deltas, view.score_name, back, plots)
    return BrowseReport(out, task, len(samples), len(chosen), time.perf_counter() - start)


def recorded_inputs(result: ResultFile, path: Path, gt: Path | None = None, pred: Path | None = None) -> tuple[Path, Path]:
    """The GT and prediction paths: those given, else the first file of each in ``provenance.inputs``."""
    inputs = result.provenance.inputs if result.provenance is not None else None
    for name, given in (("gt", gt), ("pred", pred)):
        if given is None:
            names = inputs.get(name) if isinstance(inputs, dict) else None
            if not (isinstance(names, list) and names and isinstance(names[0], str)):
                raise InputError(f"provenance names no {name} file (result written before psalm-bench recorded its inputs); pass --{name}", file=path)
    chosen = [Path(given) if given is not None else Path(inputs[name][0]) for name, given in (("gt", gt), ("pred", pred))]
    return chosen[0], chosen[1]


def recorded_png_dirs(result: ResultFile, gt: Path | None, pred: Path | None, gt_dir: Path | None,
                      pred_dir: Path | None) -> tuple[Path | None, Path | None]:
    """A panoptic result's PNG folders: those given, else the second input the provenance
    records for a JSON taken from it (`eval --gt-dir`/`--pred-dir` may have named any folder)."""
    inputs = result.provenance.inputs if result.provenance is not None else None
    chosen = []
    for name, json_given, given in (("gt", gt, gt_dir), ("pred", pred, pred_dir)):
        names = inputs.get(name) if isinstance(inputs, dict) else None
        if given is None and json_given is None and isinstance(names, list) and len(names) == 2 and isinstance(names[1], str):
            given = Path(names[1])
        chosen.append(Path(given) if given is not None else None)
    return chosen[0], chosen[1]


def _views() -> None:
    """Register the bundled views (imported here so a task's own module can register more)."""
    import psalm_bench.leaderboard.browse_instance  # noqa: F401
    import psalm_bench.leaderboard.browse_segments  # noqa: F401
    import psalm_bench.leaderboard.browse_views  # noqa: F401


def _load_result(path: Path) -> ResultFile:
    """The result through the one reader (its one-line errors), refused when a view needs records it lacks."""
    data = read_result(path)
    _views()
    if data.task in VIEWS and data.records is None:
        if data.task in ("instance", "ov-instance"):
            raise InputError("the result has no per-image match 'records'; re-run eval --json with --records", file=path)
        raise InputError("the result has no per-sample 'records' (written by an older psalm-bench?); re-run eval --json", file=path)
    return data


def _check_hash(result: ResultFile, path: Path, key: str, files: list[Path], what: str) -> None:
    from psalm_bench.results import _hash_inputs

    expected = getattr(result.provenance, key) if result.provenance is not None else ""
    for k, f in enumerate(files):
        if not f.exists():
            flag = ("--gt" if what == "ground truth" else "--pred") + ("-dir" if k else "")  # the second file: panoptic's PNG folder
            raise InputError(f"the {what} {f} is not there (moved?); pass where it is now ({flag})", file=path)
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)


def _write_pages(out: Path, title: str, result_path: Path, baseline: Path | None, chosen: list[Sample],
                 pictures: list[Picture], deltas: dict[str, float], score_name: str, back: tuple[str, str] | None = None,
                 plots: list[Any] | None = None) -> None:
    """The gallery and one page per sample, from the templates ``browse_index.html`` and ``browse_sample.html``."""
    from psalm_bench.leaderboard.site_templates import render

    plots = plots or []
    cards = [{"rank": rank, "page": f"{rank:04d}", "title": sample.title, "score": _fmt(sample.score),
              "delta": _fmt(deltas[sample.key]) if sample.key in deltas else None} for rank, sample in enumerate(chosen)]
    index = render("browse_index.html", csp=Markup(CSP), prefix="", title=title, back={"href": back[0], "text": back[1]} if back else None,
                   result_name=result_path.name, baseline_name=baseline.name if baseline else None, cards=cards,
                   score_name=score_name, notes=[p for p in plots if isinstance(p, str)],  # why a plot is not there
                   plots=[p for p in plots if not isinstance(p, str)])
    (out / "index.html").write_text(index, encoding="utf-8")
    for rank, (sample, picture) in enumerate(zip(chosen, pictures)):
        (out / "s" / f"{rank:04d}.html").write_text(
            _sample_page(rank, len(chosen), sample, picture, deltas.get(sample.key), score_name, title), encoding="utf-8")


def _sample_page(rank: int, total: int, sample: Sample, picture: Picture, delta: float | None, score_name: str, title: str) -> str:
    from psalm_bench.leaderboard.site_templates import render

    metrics = dict(sample.metrics)
    if delta is not None:
        metrics[f"{score_name} change vs baseline"] = delta
    return render("browse_sample.html", csp=Markup(CSP), prefix="../", title=f"#{rank + 1} {sample.title}", rank=rank, total=total,
                  sample_title=sample.title, browse_title=title, legend=[(hex_colour(c), label) for c, label in picture.legend],
                  prompt=picture.prompt, notes=picture.notes, metrics=_metrics_table(metrics), segments=_segments_table(picture.table),
                  strip=picture.strip is not None)


def _value(value: Any) -> Any:
    """A metric as the pages print it (4 decimals below 10, else 2; the full value in data-value)."""
    from psalm_bench.tables import Cell

    if isinstance(value, float):
        return Cell(value, digits=4 if abs(value) < 10 else 2)
    return value if isinstance(value, (int, str)) or value is None else str(value)


def _metrics_table(metrics: dict[str, Any]) -> Markup:
    from psalm_bench.tables import Col, Table, render_html

    rows = [[name, _value(v)] for name, v in metrics.items()]
    return Markup(render_html(Table("", [Col("metric", "left"), Col("value")], rows, row_headers=True), css_class="metrics"))


def _segments_table(table: list[list[str]]) -> Markup | None:
    """A view's table (header row first, e.g. matched segments), or None when it drew none."""
    from psalm_bench.tables import Col, Table, render_html

    if not table:
        return None
    head, *body = table
    return Markup(render_html(Table("", [Col(h, "left") for h in head], [list(r) for r in body]), css_class="segs"))
