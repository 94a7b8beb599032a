"""The failure browser inside the static site: each measured result's K worst
samples, drawn into the site next to its drill-down page, or one line saying
why there are none (a paper's number, a moved or changed file, a task without a view).

The site calls :func:`samples_for_row` once per result; everything it writes
stays under the row's own folder, so a re-render replaces it whole.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from psalm_bench.errors import InputError
from psalm_bench.formats.result_json import read_result
from psalm_bench.leaderboard.store import Row

SITE_WORST = 12  # samples drawn per result: a page of thumbnails, cheap enough for every row


@dataclass(frozen=True)
class SamplesLink:
    """Where a result's browse pages are (relative to the site root), or why there are none."""

    href: str | None
    text: str
    files: tuple[str, ...] = ()  # written, relative to the site root


def samples_for_row(row: Row, site_root: Path, folder: str, back: tuple[str, str], worst: int = SITE_WORST) -> SamplesLink:
    """Draw the row's worst samples into ``site_root / folder`` when its result, GT and predictions are at hand;
    ``back`` is the (href from the browse index, text) of the page that links to them."""
    from psalm_bench.leaderboard.browse import browse

    if not row.result_path:
        why = "it is a number printed in a paper" if row.source != "measured" else "it was added from a dictionary, not a file"
        return SamplesLink(None, f"No samples to show: no result file is recorded ({why}).")
    path = Path(row.result_path)
    if not path.is_file():
        return SamplesLink(None, f"No samples to show: the result file {path} is no longer there.")
    try:
        prov = read_result(path).provenance
        if prov is None or prov.gt_sha256 != row.gt_sha256 or prov.pred_sha256 != row.pred_sha256:
            return SamplesLink(None, f"No samples to show: the result file {path} has changed since it was added.")
        report = browse(path, None, None, site_root / folder, worst=worst, back=back)
    except (InputError, OSError) as exc:
        shutil.rmtree(site_root / folder, ignore_errors=True)  # nothing half-drawn, nothing unlinked
        return SamplesLink(None, f"No samples to show: {exc}")
    files = tuple(sorted(p.relative_to(site_root).as_posix() for p in (site_root / folder).rglob("*") if p.is_file()))
    return SamplesLink(f"{folder}/index.html", f"The {report.shown} worst of {report.n_samples} samples, drawn with ground truth and prediction.", files)
