"""The exceptions of the dvm package.

Every error libdvm reports is a :class:`dvm.Error` whose ``code`` is the stable string the CLI
prints in its JSON error object (``"config"``, ``"not_found"``, ``"lima_failed"``, ...) and whose
``exit_code`` is the CLI's exit status for it. A guest command that exits non-zero is *not* an
error: :meth:`dvm.Client.exec` returns its status as data.

This module is pure Python (it imports only :mod:`dvm._types`), and imports nothing from the
compiled extension, which calls
:func:`from_native` to build the exception it raises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Type

from ._types import DirtyReport

__all__ = [
    "Error",
    "UsageError",
    "ConfigError",
    "NotFoundError",
    "LimaError",
    "UnsavedWorkError",
]


class Error(Exception):
    """Base class of every error libdvm reports.

    Attributes:
        code: the stable error code, as in the CLI's JSON (``"refused"``, ``"busy"``, ...).
        exit_code: the CLI's exit status for this code (1, 2, 3 or 130).
        message: the full message (also ``str(error)``).
        errno: for code ``"io"``, the operating system's error number (``errno.ENOSPC``,
            ``errno.EACCES``, ...) of the call that failed; ``None`` when there is none.
    """

    code: str
    exit_code: int
    message: str
    errno: Optional[int] = None

    def __init__(self, message: str, code: str = "internal", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def __reduce__(self) -> Any:  # picklable with its attributes (multiprocessing, logging)
        return (_rebuild, (type(self), dict(self.__dict__)))


class UsageError(Error, ValueError):
    """Bad arguments (an invalid VM name, an unknown template, ...); nothing was done.

    Code ``"usage"``. Also a :class:`ValueError`.
    """


class ConfigError(Error):
    """A config file does not validate; nothing was done. Code ``"config"``.

    Attributes:
        path: the file (``None`` when the error is not about one file, e.g. a bad secret value).
        line, column: 1-based position in the file, ``None`` when unknown.
        key: the key path, e.g. ``"ports[1]"`` (``""`` when unknown).
        rule: the rule that is broken, without the location.
    """

    path: Optional[Path]
    line: Optional[int]
    column: Optional[int]
    key: str
    rule: str

    def __init__(self, message: str, code: str = "config", exit_code: int = 2, *,
                 path: Optional[Path] = None, line: Optional[int] = None,
                 column: Optional[int] = None, key: str = "", rule: str = "") -> None:
        super().__init__(message, code, exit_code)
        self.path = path
        self.line = line
        self.column = column
        self.key = key
        self.rule = rule or message


class NotFoundError(Error, LookupError):
    """No such VM: ``code == "not_found"`` (no config file and no Lima instance) or
    ``"not_created"`` (configured, but its Lima instance does not exist yet: sync it).
    Also a :class:`LookupError`."""


class LimaError(Error):
    """A limactl call failed (``"lima_failed"``), ran past its time limit (``"timeout"``), or
    limactl is missing or too old (``"lima_missing"``, ``"lima_version"``).

    Attributes:
        subcommand: the limactl subcommand, e.g. ``"start"`` (``""`` when unknown).
        exit_status: limactl's exit status; ``None`` when it did not exit by itself or is unknown.
        stderr_tail: the last lines limactl wrote to stderr.
    """

    subcommand: str
    exit_status: Optional[int]
    stderr_tail: str

    def __init__(self, message: str, code: str = "lima_failed", exit_code: int = 1, *,
                 subcommand: str = "", exit_status: Optional[int] = None,
                 stderr_tail: str = "") -> None:
        super().__init__(message, code, exit_code)
        self.subcommand = subcommand
        self.exit_status = exit_status
        self.stderr_tail = stderr_tail


class UnsavedWorkError(Error):
    """:meth:`dvm.Client.remove` refused to delete a VM because work would be lost, or because
    the unsaved-work check could not run completely. Code ``"refused"``.

    Attributes:
        report: the :class:`dvm.DirtyReport` that was found (repositories with their reasons,
            loose files, ``incomplete``).
    """

    report: DirtyReport

    def __init__(self, message: str, code: str = "refused", exit_code: int = 1, *,
                 report: Optional[DirtyReport] = None) -> None:
        super().__init__(message, code, exit_code)
        self.report = report if report is not None else DirtyReport()


for _cls in (Error, UsageError, ConfigError, NotFoundError, LimaError, UnsavedWorkError):
    _cls.__module__ = "dvm"  # tracebacks show dvm.ConfigError, where users catch it

_LIMA_CODES = frozenset({"lima_failed", "lima_missing", "lima_version", "timeout"})
_NOT_FOUND_CODES = frozenset({"not_found", "not_created"})


def _rebuild(cls: Type[Error], state: Dict[str, Any]) -> Error:
    error: Error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error


def from_native(info: Dict[str, Any]) -> Error:
    """The exception for a dvm::error, described by the extension as a dict (code, exit_code,
    message, errno, and the config_error / lima_error / unsaved_work_error fields when present)."""
    error = _from_native(info)
    if info.get("errno") is not None:
        error.errno = int(info["errno"])
    return error


def _from_native(info: Dict[str, Any]) -> Error:
    code = str(info.get("code", "internal"))
    message = str(info.get("message", ""))
    exit_code = int(info.get("exit_code", 1))
    if code == "config" or "line" in info:
        path = info.get("path") or None
        return ConfigError(message, code, exit_code,
                           path=Path(path) if path else None,
                           line=info.get("line") or None,
                           column=info.get("column") or None,
                           key=str(info.get("key", "")),
                           rule=str(info.get("rule", "")))
    if code in _LIMA_CODES or "subcommand" in info:
        status = info.get("exit_status")
        return LimaError(message, code, exit_code,
                         subcommand=str(info.get("subcommand", "")),
                         exit_status=None if status is None or status < 0 else int(status),
                         stderr_tail=str(info.get("stderr_tail", "")))
    if "unsaved_work" in info:
        return UnsavedWorkError(message, code, exit_code, report=DirtyReport._from(info["unsaved_work"]))
    if code in _NOT_FOUND_CODES:
        return NotFoundError(message, code, exit_code)
    if code == "usage":
        return UsageError(message, code, exit_code)
    return Error(message, code, exit_code)
