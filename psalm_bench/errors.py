"""The one error type that reaches a user.

Anything wrong with a user's input (a file that does not parse, a record that
breaks the contract in FORMATS.md) is raised as :class:`InputError`. The CLI
prints it as one line, ``FILE: RECORD: PROBLEM``, and exits with status 2;
library callers catch it like any other exception.
"""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad input: names the file, the record and what is wrong."""

    def __init__(self, problem: str, *, file: str | Path | None = None, record: str | None = None):
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.record = record
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.record, self.problem) if p]
        return ": ".join(parts)

    def __reduce__(self):  # survives the trip back from a worker process
        return (_rebuild, (self.problem, self.file, self.record))


def _rebuild(problem: str, file: str | None, record: str | None) -> InputError:
    return InputError(problem, file=file, record=record)
