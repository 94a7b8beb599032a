"""Score someone else's predictions, sent as an archive, on the board's own GT.

A submission is a zip or tar(.gz/.bz2/.xz) of prediction files. Nothing in it
is trusted: before a byte is written, every member is checked (a relative
path without ``..``, a regular file or folder, no pickles by name, within the
file-count, per-file, total-size and compression-ratio limits), and while
extracting the bytes actually produced are counted against the declared sizes
and the limits, so a lying header or a decompression bomb stops the copy.
Files are written only under a fresh temporary folder and checked for pickle
and nested-archive magic bytes as they arrive.

The board's ground truth is registered per (task, benchmark, split) in the
store (:meth:`ResultsStore.register_benchmark`, CLI ``leaderboard set-gt``): its
path, sha256 and the evaluation options. Before scoring, the GT is hashed
again and must still match; the result is then added like any measured result
(one transaction), so a refused or failing submission stores nothing.
"""

from __future__ import annotations

import json
import re
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Mapping

from psalm_bench.errors import InputError
from psalm_bench.leaderboard.store import AddOutcome, Benchmark, ResultsStore
from psalm_bench.leaderboard.store_records import board_key

PICKLE_SUFFIXES = frozenset({".pkl", ".pickle", ".p", ".pt", ".pth", ".ckpt", ".joblib", ".dill", ".npy", ".npz", ".bin"})
# tasks whose predictions are a folder of PNGs rather than one file
FOLDER_TASKS = frozenset({"semantic", "vos", "ov-semantic"})
PRED_SUFFIXES = (".json", ".jsonl")
_CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    """What a submission may unpack to."""

    max_files: int = 100_000
    max_file_bytes: int = 2 << 30  # 2 GiB
    max_total_bytes: int = 8 << 30  # 8 GiB
    max_ratio: float = 200.0  # uncompressed / compressed, per member and for the whole archive
    ratio_floor_bytes: int = 1 << 20  # smaller members are exempt from the ratio check


@dataclass(frozen=True)
class Member:
    """One archive entry that passed the checks: its safe relative name and declared size."""

    name: str
    size: int
    is_dir: bool


def refuse(archive: str | Path, problem: str, member: str | None = None) -> InputError:
    return InputError(f"refused: {problem}", file=archive, record=f"member {member!r}" if member is not None else None)


# ---------------------------------------------------------------------------
# Member checks


def safe_name(archive: str | Path, raw: str) -> str:
    """A member's name as a safe relative POSIX path, or refused."""
    if not raw or "\0" in raw:
        raise refuse(archive, "empty name or NUL byte in a member name", raw)
    if "\\" in raw:
        raise refuse(archive, "backslash in a member name (Windows-style paths are not accepted)", raw)
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise refuse(archive, "absolute path", raw)
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if ".." in parts:
        raise refuse(archive, "path traversal ('..' in the member name)", raw)
    if not parts:
        raise refuse(archive, "member name resolves to the archive root", raw)
    return "/".join(parts)


def check_not_pickle_name(archive: str | Path, name: str) -> None:
    if PurePosixPath(name).suffix.lower() in PICKLE_SUFFIXES:
        raise refuse(archive, f"pickle-capable file type {PurePosixPath(name).suffix!r} (predictions are JSON, JSONL or PNG)", name)


def check_magic(archive: str | Path, name: str, head: bytes) -> None:
    """Refuse pickles and nested archives by their first bytes, whatever the name."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise refuse(archive, "pickle data (magic bytes) in a prediction file", name)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x1f\x8b") or head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ\x00"):
        raise refuse(archive, "a nested archive or compressed file", name)


class _Budget:
    """Counts files and bytes across the whole archive against the limits."""

    def __init__(self, archive: str | Path, limits: ArchiveLimits):
        self.archive, self.limits = archive, limits
        self.files = 0
        self.declared = 0
        self.written = 0
        self.names: set[str] = set()

    def admit(self, member: Member) -> None:
        if member.name in self.names:
            raise refuse(self.archive, "duplicate member name", member.name)
        self.names.add(member.name)
        if member.is_dir:
            return
        self.files += 1
        if self.files > self.limits.max_files:
            raise refuse(self.archive, f"more than {self.limits.max_files} files")
        if member.size > self.limits.max_file_bytes:
            raise refuse(self.archive, f"member declares {member.size} bytes, over the per-file limit of {self.limits.max_file_bytes}", member.name)
        self.declared += member.size
        if self.declared > self.limits.max_total_bytes:
            raise refuse(self.archive, f"archive declares more than {self.limits.max_total_bytes} bytes uncompressed")

    def take(self, member: Member, count: int) -> None:
        self.written += count
        if self.written > self.limits.max_total_bytes:
            raise refuse(self.archive, f"archive inflates beyond the {self.limits.max_total_bytes}-byte limit (decompression bomb)")


def check_ratio(archive: str | Path, name: str | None, size: int, compressed: int, limits: ArchiveLimits) -> None:
    if size < limits.ratio_floor_bytes:
        return
    if compressed <= 0 or size / compressed > limits.max_ratio:
        ratio = "unbounded" if compressed <= 0 else f"{size / compressed:.0f}:1"
        raise refuse(archive, f"compression ratio {ratio} exceeds {limits.max_ratio:g}:1 (decompression bomb)", name)


def zip_members(archive: str | Path, zf: zipfile.ZipFile, limits: ArchiveLimits, budget: _Budget) -> list[tuple[Member, zipfile.ZipInfo]]:
    out = []
    for info in zf.infolist():
        name = safe_name(archive, info.filename)
        mode = info.external_attr >> 16
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise refuse(archive, "symbolic link", info.filename)
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise refuse(archive, "device, FIFO or other special file", info.filename)
        if info.flag_bits & 0x1:
            raise refuse(archive, "encrypted member", info.filename)
        member = Member(name, info.file_size, info.is_dir())
        if not member.is_dir:
            check_not_pickle_name(archive, name)
            check_ratio(archive, name, info.file_size, info.compress_size, limits)
        budget.admit(member)
        out.append((member, info))
    return out


def tar_members(archive: str | Path, tf: tarfile.TarFile, limits: ArchiveLimits, budget: _Budget) -> list[tuple[Member, tarfile.TarInfo]]:
    out = []
    while True:  # header by header, so a bomb is stopped as soon as it declares too much
        info = tf.next()
        if info is None:
            break
        if info.issym():
            raise refuse(archive, "symbolic link", info.name)
        if info.islnk():
            raise refuse(archive, "hard link", info.name)
        if info.ischr() or info.isblk():
            raise refuse(archive, "device file", info.name)
        if info.isfifo():
            raise refuse(archive, "FIFO", info.name)
        if not (info.isreg() or info.isdir()):
            raise refuse(archive, "special member (not a regular file or folder)", info.name)
        name = safe_name(archive, info.name)
        member = Member(name, info.size, info.isdir())
        if not member.is_dir:
            check_not_pickle_name(archive, name)
        budget.admit(member)
        out.append((member, info))
    return out


# ---------------------------------------------------------------------------
# Extraction


def _copy(archive: str | Path, src: BinaryIO, dest: Path, member: Member, limits: ArchiveLimits, budget: _Budget) -> None:
    written = 0
    with open(dest, "xb") as out:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            if written == 0:
                check_magic(archive, member.name, chunk[:8])
            written += len(chunk)
            if written > member.size:
                raise refuse(archive, f"member inflates beyond its declared {member.size} bytes (decompression bomb or corrupt archive)", member.name)
            budget.take(member, len(chunk))
            out.write(chunk)
    if written != member.size:
        raise refuse(archive, f"member holds {written} bytes, its header declares {member.size} (truncated or corrupt archive)", member.name)


def _target(root: Path, name: str) -> Path:
    target = (root / name).resolve()
    if root != target and root not in target.parents:  # defence in depth: safe_name already forbids this
        raise InputError(f"refused: member {name!r} would be written outside the extraction folder")
    return target


def archive_kind(archive: str | Path) -> str:
    path = Path(archive)
    if not path.is_file():
        raise InputError("no such archive file", file=archive)
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, tarfile.TarError, EOFError):
        pass
    raise InputError("refused: not a zip or tar archive", file=archive)


def _write_members(archive: str | Path, root: Path, members: list, open_member, limits: ArchiveLimits, budget: _Budget) -> list[str]:
    """Copy checked members under ``root``: folders made, files streamed through :func:`_copy`."""
    total = sum(m.size for m, _ in members)
    check_ratio(archive, None, total, max(Path(archive).stat().st_size, 1), limits)
    files = []
    for member, info in members:
        target = _target(root, member.name)
        if member.is_dir:
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        src = open_member(info)
        if src is None:
            raise refuse(archive, "member has no data", member.name)
        with src:
            _copy(archive, src, target, member, limits, budget)
        files.append(member.name)
    return files


def extract_archive(archive: str | Path, dest: str | Path, limits: ArchiveLimits = ArchiveLimits()) -> list[str]:
    """Unpack ``archive`` into the empty folder ``dest`` after checking every member; returns the file names."""
    root = Path(dest).resolve()
    kind = archive_kind(archive)
    budget = _Budget(archive, limits)
    try:
        if kind == "zip":
            with zipfile.ZipFile(archive) as zf:
                files = _write_members(archive, root, zip_members(archive, zf, limits, budget), zf.open, limits, budget)
        else:
            with tarfile.open(archive, "r:*") as tf:
                files = _write_members(archive, root, tar_members(archive, tf, limits, budget), tf.extractfile, limits, budget)
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib_error(), OSError) as exc:
        if isinstance(exc, FileExistsError):
            raise refuse(archive, "two members write the same file") from None
        raise InputError(f"refused: corrupt archive ({exc})", file=archive) from None
    if not files:
        raise refuse(archive, "the archive holds no files")
    return files


def zlib_error() -> type[Exception]:
    import zlib

    return zlib.error


# ---------------------------------------------------------------------------
# The board's ground truth


def gt_inputs(task: str, gt: str | Path, options: Mapping[str, Any]) -> list[Path]:
    """The files a result's GT hash covers, as `psalm-bench eval` hashes them (panoptic: JSON + PNG folder)."""
    from psalm_bench.tasks import input_files

    return input_files(task, gt, options.get("gt_dir"))


def digest(paths: list[Path]) -> str:
    """One sha256 for one or several inputs, identical to the result files' ``provenance.gt_sha256``."""
    from psalm_bench.results import input_digest

    missing = next((p for p in paths if not (Path(p).is_file() or Path(p).is_dir())), None)  # what sha256_of hashes
    if missing is not None:
        raise InputError("ground truth not found", file=missing)
    return input_digest(list(paths))


def run_options(task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The evaluation options among a result's params (what a new submission must be scored with)."""
    from psalm_bench.tasks import get_task

    accepted = get_task(task).options - {"workers", "progress"}
    return {k: v for k, v in params.items() if k in accepted and v is not None}


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """``["dataset=refcoco", "num_classes=21"]`` -> options (JSON values where they parse, else strings)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"--option {item!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def register_gt(
    store: ResultsStore,
    gt: str | Path,
    *,
    result: str | Path | None = None,
    task: str | None = None,
    benchmark: str | None = None,
    split: str | None = None,
    options: Mapping[str, Any] | None = None,
) -> tuple[Benchmark, str]:
    """Register a board's ground truth, from a measured result file or from explicit options.

    With ``result``, the task, (benchmark, split) and evaluation options come
    from its provenance, and ``gt`` must hash to its ``gt_sha256``.
    """
    from psalm_bench.tasks import get_task

    if result is not None:
        from psalm_bench.formats.result_json import read_result

        res = read_result(result, require=_registered, need_provenance=True)
        task, params = res.task, res.params
        opts = run_options(task, params)
        key = board_key(params)
        sha = digest(gt_inputs(task, gt, opts))
        expected = res.provenance.gt_sha256 if res.provenance is not None else ""
        if sha != expected:
            raise InputError(f"does not hash to the result's gt_sha256 ({sha[:12]}... vs {expected[:12]}...)", file=gt)
    else:
        if task is None:
            raise InputError("set-gt needs --result RESULT.json, or --task with the evaluation --option's")
        get_task(task)
        opts = dict(options or {})
        unknown = sorted(set(opts) - (get_task(task).options - {"workers", "progress"}))
        if unknown:
            raise InputError(f"task {task} does not take option(s) {', '.join(unknown)}")
        key = board_key(opts)
        key = (benchmark or key[0], split or key[1])
        sha = digest(gt_inputs(task, gt, opts))
    for name in ("classes", "gt_dir", "image_list"):  # file-valued options must survive a change of directory
        if isinstance(opts.get(name), str):
            opts[name] = str(Path(opts[name]).resolve())
    status = store.register_benchmark(task, key[0], key[1], gt, sha, opts)
    return next(b for b in store.benchmarks(task) if (b.benchmark, b.split) == key), status


def _registered(task: str) -> tuple[str, ...]:
    """A result's ``require`` for set-gt: the task must be registered; no metric is needed to hash its ground truth."""
    from psalm_bench.tasks import get_task

    get_task(task)
    return ()


def resolve_board(store: ResultsStore, task: str, benchmark: str | None, split: str | None) -> Benchmark:
    boards = [b for b in store.benchmarks(task) if (benchmark is None or b.benchmark == benchmark) and (split is None or b.split == split)]
    if not boards:
        raise InputError(f"no ground truth registered for {task}" + (f"/{benchmark}" if benchmark else "") + (f"/{split}" if split else "")
                         + " on this board; register it with `psalm-bench leaderboard set-gt`")
    if len(boards) > 1:
        keys = ", ".join(f"{b.benchmark}/{b.split}" for b in boards)
        raise InputError(f"task {task} has several registered boards ({keys}); choose one with --benchmark and --split")
    return boards[0]


def verify_gt(board: Benchmark, gt: str | Path | None) -> Path:
    """The GT path to score with, after checking it still hashes to the registered sha256."""
    path = Path(gt) if gt is not None else Path(board.gt_path)
    sha = digest(gt_inputs(board.task, path, board.options))
    if sha != board.gt_sha256:
        what = "is not the board's ground truth" if gt is not None else "has changed since it was registered"
        raise InputError(f"{what} (sha256 {sha[:12]}..., registered {board.gt_sha256[:12]}...)", file=path)
    return path


# ---------------------------------------------------------------------------
# Finding the predictions in an unpacked submission


def _unwrap(root: Path) -> Path:
    """Descend through single top-level folders (archives often wrap everything in one).

    Hidden entries and macOS's ``__MACOSX`` resource-fork folder do not count.
    """
    while True:
        entries = [p for p in root.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]
        else:
            return root


def find_predictions(archive: str | Path, root: Path, task: str) -> tuple[Path, list[Path]]:
    """(the prediction argument for the task, the inputs its pred hash covers)."""
    top = _unwrap(root)
    if task in FOLDER_TASKS:
        return top, [top]
    candidates = sorted(p for p in top.iterdir() if p.is_file() and p.suffix.lower() in PRED_SUFFIXES)
    if task == "panoptic":
        candidates = [p for p in candidates if p.suffix.lower() == ".json"]
    if len(candidates) != 1:
        listed = ", ".join(p.name for p in candidates) or "none"
        raise InputError(f"refused: expected exactly one prediction file (.json/.jsonl) at the archive's top level, found {listed}", file=archive)
    pred = candidates[0]
    return pred, ([pred, pred.with_suffix("")] if task == "panoptic" else [pred])


@dataclass(frozen=True)
class Submission:
    outcome: AddOutcome
    metrics: dict[str, float | None]
    benchmark: Benchmark
    files: int


def _relabel(exc: InputError, tmp: Path, archive: str | Path) -> InputError:
    """Name files inside the submission as ARCHIVE:member instead of a temp path."""
    text = str(exc)
    prefix = str(tmp.resolve())
    if prefix in text:
        return InputError(text.replace(prefix + "/", f"{archive}:").replace(prefix, str(archive)))
    return exc


def submit(
    store: ResultsStore,
    archive: str | Path,
    task: str,
    model: str,
    *,
    gt: str | Path | None = None,
    benchmark: str | None = None,
    split: str | None = None,
    meta: Mapping[str, str] | None = None,
    limits: ArchiveLimits = ArchiveLimits(),
) -> Submission:
    """Unpack, check, score and store one submission; nothing is stored unless all of it succeeds."""
    from psalm_bench.tasks import get_task

    spec = get_task(task)
    if not isinstance(model, str) or not model.strip():
        raise InputError("--model must name the model (a non-empty string)")
    board = resolve_board(store, task, benchmark, split)
    gt_path = verify_gt(board, gt)
    with tempfile.TemporaryDirectory(prefix="psalm-bench-submission-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            files = extract_archive(archive, tmp, limits)
            pred, pred_inputs = find_predictions(archive, tmp, task)
            options = dict(board.options)
            if "progress" in spec.options:
                options["progress"] = False
            result = spec.run(gt_path, pred, **options)
            data = result.to_dict(gt=gt_inputs(task, gt_path, board.options), pred=pred_inputs)
        except InputError as exc:
            raise _relabel(exc, tmp, archive) from None
    if data["provenance"]["gt_sha256"] != board.gt_sha256:
        raise InputError("the scored ground truth does not hash to the registered sha256", file=gt_path)
    key = board_key(data["provenance"]["params"])
    if key != (board.benchmark, board.split):
        raise InputError(f"scored as {task}/{key[0]}/{key[1]}, but the board is {task}/{board.benchmark}/{board.split}")
    outcome = store.add(data, model, meta)
    return Submission(outcome, dict(data["metrics"]), board, len(files))
