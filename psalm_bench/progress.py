"""Progress that also reads in a CI log: a tqdm bar on a terminal, plain lines elsewhere.

A tqdm bar redraws one line with carriage returns; written to a file or a CI
log it is one unreadable line that appears only at the end. When the stream
is not a terminal, :func:`tqdm` gives a bar that prints a whole line in
tqdm's format (``desc:  33%|###3      | 40/120 [00:12<00:24,  3.25img/s]``)
at most every ``LINE_SECONDS`` and one when the work is done; nothing before
the first item or after a failure, so an error stays the one line on stderr.

tqdm itself is imported only for a terminal: its import looks its own version
up in the installed distributions' metadata, ~65 ms of CPU in this
environment, a twentieth of a whole ``eval --task semantic`` of 1000 images.
A disabled bar is a line bar that never prints. Use :func:`tqdm` as
``tqdm.tqdm`` is used here: an iterable and/or ``total``, ``update``,
``set_postfix``, ``close``, ``with``.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Iterable, Iterator

# A line at most this often in a log (and one at the end).
LINE_SECONDS = 10.0

_BAR_WIDTH = 10
_ASCII = " 123456789#"  # tqdm's ascii bar: eighths of a cell as digits, full cells as '#'


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def tqdm(iterable: Iterable[Any] | None = None, desc: str | None = None, total: float | None = None, leave: bool | None = True,
         file: Any = None, **kwargs: Any) -> Any:  # noqa: N802 - a drop-in for tqdm.tqdm
    """``tqdm.tqdm`` on a terminal; elsewhere (or disabled) a :class:`LineBar`."""
    stream = file or sys.stderr
    if kwargs.get("disable") or not _is_terminal(stream):
        return LineBar(iterable, desc=desc, total=total, file=stream, **kwargs)
    from tqdm import tqdm as terminal_bar

    return terminal_bar(iterable, desc=desc, total=total, leave=leave, file=file, **kwargs)


def _interval(seconds: float) -> str:
    """tqdm's [H:]MM:SS."""
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h:d}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def _bar(fraction: float) -> str:
    cells, eighths = divmod(int(min(max(fraction, 0.0), 1.0) * _BAR_WIDTH * 10), 10)
    if cells >= _BAR_WIDTH:
        return _ASCII[-1] * _BAR_WIDTH
    return _ASCII[-1] * cells + _ASCII[eighths] + " " * (_BAR_WIDTH - cells - 1)


def format_line(desc: str | None, n: int, total: float | None, elapsed: float, unit: str, postfix: str = "", initial: int = 0) -> str:
    """One progress line as tqdm's ``format_meter`` writes it with ``ascii=True`` and no width."""
    done = n - initial
    rate = done / elapsed if elapsed > 0 and done > 0 else None
    if rate is None:
        rate_text = f"?{unit}/s"
    else:
        rate_text = f"{1 / rate:5.2f}s/{unit}" if rate < 1 else f"{rate:5.2f}{unit}/s"
    tail = f", {rate_text}{', ' + postfix if postfix else ''}]"
    prefix = f"{desc}: " if desc else ""
    if not total:
        return f"{prefix}{n}{unit} [{_interval(elapsed)}{tail}"
    remaining = "?" if rate is None else _interval((total - n) / rate)
    total_text = str(int(total)) if float(total).is_integer() else str(total)
    return f"{prefix}{n / total * 100:3.0f}%|{_bar(n / total)}| {n}/{total_text} [{_interval(elapsed)}<{remaining}{tail}"


class LineBar:
    """Whole lines, not a redrawn bar: one at most every ``mininterval``
    seconds (at least ``LINE_SECONDS``) as items are done and one at the end,
    none before the first item nor at the close of a run stopped early."""

    def __init__(self, iterable: Iterable[Any] | None = None, *, desc: str | None = None, total: float | None = None,
                 file: Any = None, unit: str = "it", initial: int = 0, disable: bool = False,
                 mininterval: float | None = None, **_ignored: Any) -> None:
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.iterable = iterable
        self.desc = desc or ""
        self.total = total
        self.n = initial
        self.initial = initial
        self.unit = unit
        self.disable = disable
        self.fp = file or sys.stderr
        self.mininterval = max(float(mininterval or 0.0), LINE_SECONDS)
        self.postfix = ""
        self._start = self._last_print = time.monotonic()
        self._last_line = ""
        self._closed = False

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("this bar wraps no iterable")
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def __enter__(self) -> "LineBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __str__(self) -> str:
        return format_line(self.desc, self.n, self.total, time.monotonic() - self._start, self.unit, self.postfix, self.initial)

    def update(self, n: float = 1) -> None:
        if self.disable:
            return
        self.n += n
        now = time.monotonic()
        if now - self._last_print >= self.mininterval:
            self._last_print = now
            self._write()

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """Shown at the end of the next line (tqdm's ``k=v, ...``); never a line by itself."""
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in items.items())

    def close(self) -> None:
        if self.disable or self._closed:
            return
        self._closed = True
        if self.total and self.n < self.total:
            return  # stopped before the end (an error): its one line stays the last
        self._write()

    def _write(self) -> None:
        if self.n == 0:
            return  # nothing before the first item
        line = str(self)
        if line != self._last_line:
            self._last_line = line
            self.fp.write(line + "\n")
            self.fp.flush()
