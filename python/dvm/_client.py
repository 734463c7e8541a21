"""dvm.Client: every operation of the ``dvm`` CLI as a method.

Each call blocks until libdvm is done, with the GIL released (other Python threads keep running)
and interruptible: Ctrl-C raises KeyboardInterrupt after the running limactl call has been
stopped and the operation has unwound (VM lock released, staged secrets removed from the guest).
A Client may be used from several threads at once; calls do not share state.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Literal, Mapping, Optional, Sequence, Union, overload

from . import _dvm
from ._types import (
    CopyResult,
    DirtyReport,
    DoctorCheck,
    DoctorReport,
    DoctorStatus,
    Event,
    ExecResult,
    GpgKey,
    InitResult,
    LogsResult,
    Plan,
    Recipe,
    RemoveResult,
    SshKeys,
    StartResult,
    StopAllResult,
    StopResult,
    SyncAllResult,
    SyncResult,
    Timeouts,
    Versions,
    VmConfig,
    VmStatus,
)

__all__ = ["Client", "EventCallback", "SecretValue"]

EventCallback = Callable[[Event], Any]
"""An ``on_event`` callback: called with each :class:`dvm.Event`, with the GIL held, one at a
time. If it raises, the operation is cancelled and the exception is raised by the method."""

SecretValue = Union[str, bytes, bytearray, memoryview]
StrPath = Union[str, "os.PathLike[str]"]
NameLike = Union[str, VmStatus, VmConfig]
InputData = Union[str, bytes, bytearray]

_NativeSink = Optional[Callable[[Dict[str, Any]], None]]


def _name(vm: NameLike) -> str:
    if isinstance(vm, (VmStatus, VmConfig)):
        return vm.name
    if not isinstance(vm, str):
        raise TypeError(f"a VM name must be str, not {type(vm).__name__}")
    return vm


def _path(value: Optional[StrPath]) -> Optional[str]:
    return None if value is None else os.fspath(value)


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class Client:
    """A handle on the dvm configuration and on Lima.

    Args:
        config_dir: the config root (default: ``$DVM_CONFIG``, else ``$XDG_CONFIG_HOME/dvm``,
            else ``~/.config/dvm``).
        limactl: the limactl program (default: ``$LIMACTL``, else ``limactl`` on PATH).
        state_dir: locks and caches (default: ``$DVM_STATE``, else ``$XDG_STATE_HOME/dvm``, else
            ``~/.local/state/dvm``).
        environment: the variables dvm reads (DVM_CONFIG, HOME, PATH, LIMA_HOME, ... and the
            values of the secrets a VM lists). Default: this process's environment as it is at
            each call (``os.environ``).
        timeouts: time limits of limactl calls (default: libdvm's).
        on_event: a callback for every call that is not given its own ``on_event``.

    Creating a Client reads no config file and runs no limactl; each method call does what it
    needs with the settings given here.
    """

    def __init__(self, config_dir: Optional[StrPath] = None, limactl: Optional[StrPath] = None,
                 state_dir: Optional[StrPath] = None, environment: Optional[Mapping[str, str]] = None,
                 *, timeouts: Optional[Timeouts] = None, on_event: Optional[EventCallback] = None) -> None:
        env = None if environment is None else {str(k): str(v) for k, v in environment.items()}
        self._native = _dvm.NativeClient(environment=env, config_dir=_path(config_dir),
                                         state_dir=_path(state_dir), limactl=_path(limactl),
                                         timeouts=timeouts._native() if timeouts is not None else {})
        self._on_event = on_event
        self._settings = (config_dir, limactl, state_dir)

    def __repr__(self) -> str:
        config_dir, limactl, state_dir = self._settings
        return f"dvm.Client(config_dir={config_dir!r}, limactl={limactl!r}, state_dir={state_dir!r})"

    def _sink(self, on_event: Optional[EventCallback]) -> _NativeSink:
        chosen = on_event if on_event is not None else self._on_event
        if chosen is None:
            return None
        callback: EventCallback = chosen  # not Optional inside the closure

        def deliver(raw: Dict[str, Any]) -> None:
            callback(Event._from(raw))

        return deliver

    # --- configuration ----------------------------------------------------------------------

    @property
    def config_dir(self) -> Path:
        """The config root in use."""
        return Path(self._native.paths(None)["config_dir"])

    @property
    def state_dir(self) -> Path:
        """The state directory in use (locks and caches, never secrets)."""
        return Path(self._native.paths(None)["state_dir"])

    def vm_names(self) -> List[str]:
        """The VMs with a file in ``vms/`` (sorted)."""
        return list(self._native.vm_names(None))

    def config(self, name: NameLike) -> VmConfig:
        """Loads and validates one VM's configuration (raises ConfigError / NotFoundError)."""
        return VmConfig._from(self._native.config(_name(name), None))

    def recipes(self) -> List[Recipe]:
        """The recipe catalog: bundled recipes and the user's ``recipes/*.sh``, sorted by name."""
        return [Recipe._from(r) for r in self._native.recipes(None)]

    def init_config(self, name: str, template: str = "app") -> InitResult:
        """Writes ``vms/NAME.toml`` from a bundled template ("app", "llama", "cloudflared",
        "tailscale"). Never overwrites: ``created`` is False when the file already existed."""
        r = self._native.init_config(_name(name), template, None)
        return InitResult(Path(r["path"]), r["created"])

    def plan(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> Plan:
        """What :meth:`sync` would do, without changing anything and without calling limactl."""
        return Plan._from(self._native.plan(_name(name), self._sink(on_event)))

    # --- state ------------------------------------------------------------------------------

    def list(self, *, on_event: Optional[EventCallback] = None) -> List[VmStatus]:
        """DVM's VMs: Lima's ``dvm-*`` instances and configured VMs that do not exist yet
        (``state == "absent"``), sorted by name."""
        return [VmStatus._from(s) for s in self._native.list(self._sink(on_event))]

    def status(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> VmStatus:
        """One VM. Raises NotFoundError when it is neither configured nor a Lima instance."""
        return VmStatus._from(self._native.status(_name(name), self._sink(on_event)))

    def doctor(self, name: Optional[NameLike] = None, *,
               on_event: Optional[EventCallback] = None) -> DoctorReport:
        """Checks limactl, every config (or one VM's), file permissions, secret-looking values in
        config files, forwards beyond loopback, and drift between each instance and its config.
        Findings are data: look at ``report.problems`` and ``report.warnings``."""
        checks = self._native.doctor("" if name is None else _name(name), self._sink(on_event))
        return DoctorReport(tuple(DoctorCheck(c["vm"], c["name"], DoctorStatus(c["status"]), c["message"]) for c in checks))

    def versions(self) -> Versions:
        """dvm's version and limactl's (with the reason when limactl cannot be used)."""
        v = self._native.versions(None)
        return Versions(v["dvm"], v["limactl"], v["limactl_problem"])

    # --- lifecycle --------------------------------------------------------------------------

    def sync(self, name: NameLike, secrets: Optional[Mapping[str, SecretValue]] = None,
             on_event: Optional[EventCallback] = None, *, restart: bool = False, full: bool = False,
             recipes: Iterable[str] = ()) -> SyncResult:
        """Creates the VM if missing, applies changed ports/cpus/memory/disk, starts it, and runs
        its recipes in the guest.

        Args:
            secrets: name -> value, staged in addition to (and instead of reading from the
                environment) the secrets the VM lists. Values are str (sent as UTF-8) or bytes;
                they are copied straight into libdvm's wiped buffers when the call starts and
                reach the guest only over limactl's stdin.
            on_event: progress callback (recipe_started, recipe_finished, output, ...).
            restart: a change that needs a restart (cpus, memory, disk, port rules) is applied
                to a VM in use (a shell, tmux/zellij, a service unit) only with ``restart=True``;
                without it such a sync raises :class:`Error` with code ``"busy"`` and changes
                nothing. A VM nobody uses is restarted either way.
            full: run every recipe, also those whose fingerprint (what they depend on) is
                unchanged since their last successful run; those are skipped otherwise
                (``RecipeTiming.skipped``), except the baseline and ``# Always: true`` recipes.
            recipes: run these recipes even when unchanged; the others run only when changed.
                A name the VM does not run raises :class:`UsageError`.
        """
        if secrets is not None and not isinstance(secrets, dict):
            secrets = dict(secrets)  # references to the same value objects, not copies
        if isinstance(recipes, str):
            raise TypeError("recipes takes a list of recipe names, not a str")
        return SyncResult._from(self._native.sync(_name(name), secrets, restart, full, list(recipes),
                                                  self._sink(on_event)))

    def sync_all(self, jobs: int = 4, names: Optional[Iterable[NameLike]] = None,
                 on_event: Optional[EventCallback] = None, *,
                 secrets: Optional[Mapping[NameLike, Mapping[str, SecretValue]]] = None,
                 restart: bool = False, full: bool = False, recipes: Iterable[str] = ()) -> SyncAllResult:
        """Syncs every configured VM (or ``names``), ``jobs`` at a time. One failure does not stop
        the others: look at ``result.failed`` and each outcome. Events come from several threads
        (one at a time).

        Args:
            secrets: VM name -> that VM's secrets, as :meth:`sync` takes them. Each VM gets only
                its own; a name that is not synced raises :class:`UsageError` before anything
                is done.
            restart: as for :meth:`sync`, for every VM (a busy VM is a failed outcome).
            full, recipes: as for :meth:`sync`, for every VM; each name in ``recipes`` must be
                run by one of the VMs (else :class:`UsageError`), and applies to those that do.
        """
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        wanted = [] if names is None else [_name(n) for n in names]
        per_vm = None
        if secrets is not None:  # references to the same value objects, not copies
            per_vm = {_name(vm): dict(values) for vm, values in secrets.items()}
        if isinstance(recipes, str):
            raise TypeError("recipes takes a list of recipe names, not a str")
        return SyncAllResult._from(self._native.sync_all(jobs, wanted, per_vm, restart, full, list(recipes),
                                                         self._sink(on_event)))

    def start(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> StartResult:
        """Starts an existing, stopped VM without running its recipes (``started`` is False, with
        a warning event, when it was already running). Raises :class:`NotFoundError`: code
        ``"not_created"`` when the VM is configured but its instance does not exist yet
        (:meth:`sync` creates it), ``"not_found"`` when there is no such VM."""
        return StartResult._from(self._native.start(_name(name), self._sink(on_event)))

    def restart(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> StartResult:
        """Stops the VM when it runs and starts it again, without running its recipes."""
        return StartResult._from(self._native.restart(_name(name), self._sink(on_event)))

    def stop(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> StopResult:
        """Stops one VM. ``stopped`` is False (and a warning event says so) when it was already
        stopped."""
        return StopResult._from(self._native.stop(_name(name), self._sink(on_event)))

    def stop_all(self, inactive_only: bool = False, force: bool = False, *,
                 on_event: Optional[EventCallback] = None) -> StopAllResult:
        """Stops every running DVM VM. ``inactive_only`` skips VMs in use (a shell, tmux/zellij,
        a service unit); with it, ``force`` also stops VMs whose activity probe failed."""
        return StopAllResult._from(self._native.stop_all(inactive_only, force, self._sink(on_event)))

    def remove(self, name: NameLike, force: bool = False, *,
               on_event: Optional[EventCallback] = None) -> RemoveResult:
        """Checks for unsaved work (unless ``force``), then stops and deletes the Lima instance.
        The VM file is kept. Raises :class:`dvm.UnsavedWorkError` (code ``"refused"``, with the
        :class:`DirtyReport`) when work would be lost."""
        return RemoveResult._from(self._native.remove(_name(name), force, self._sink(on_event)))

    def check_unsaved_work(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> DirtyReport:
        """The unsaved-work check of :meth:`remove` on its own (starts the VM if it is stopped)."""
        return DirtyReport._from(self._native.check_unsaved_work(_name(name), self._sink(on_event)))

    # --- in the guest -----------------------------------------------------------------------

    @overload
    def exec(self, name: NameLike, argv: Sequence[str], input: Optional[InputData] = None, *,
             text: Literal[True] = True, interactive: bool = False,
             on_event: Optional[EventCallback] = None) -> ExecResult[str]: ...

    @overload
    def exec(self, name: NameLike, argv: Sequence[str], input: Optional[InputData] = None, *,
             text: Literal[False], interactive: bool = False,
             on_event: Optional[EventCallback] = None) -> ExecResult[bytes]: ...

    @overload
    def exec(self, name: NameLike, argv: Sequence[str], input: Optional[InputData] = None, *,
             text: bool, interactive: bool = False,
             on_event: Optional[EventCallback] = None) -> Union[ExecResult[str], ExecResult[bytes]]: ...

    def exec(self, name: NameLike, argv: Sequence[str], input: Optional[InputData] = None, *,
             text: bool = True, interactive: bool = False,
             on_event: Optional[EventCallback] = None) -> Union[ExecResult[str], ExecResult[bytes]]:
        """Runs ``argv`` in the VM's code directory and returns its exit status and output. A
        non-zero exit is data, not an exception (use ``.check()`` to raise).

        Args:
            input: bytes-like (or str, sent as UTF-8) for the command's stdin; default: none.
            text: decode stdout/stderr as UTF-8 into ``ExecResult[str]`` (True, undecodable
                bytes replaced) or return ``ExecResult[bytes]`` (False).
            interactive: connect the command to this process's stdin/stdout/stderr; the result
                then holds no output.
        """
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of str, e.g. ['sh', '-c', 'echo hi']")
        args = [str(a) for a in argv]
        data = input.encode() if isinstance(input, str) else (None if input is None else bytes(input))
        r = self._native.exec(_name(name), args, data, interactive, self._sink(on_event))
        stdout: bytes = r["stdout"]
        stderr: bytes = r["stderr"]
        if text:
            return ExecResult(r["exit_code"], _text(stdout), _text(stderr), r["duration"], tuple(args))
        return ExecResult(r["exit_code"], stdout, stderr, r["duration"], tuple(args))

    def shell(self, name: NameLike) -> int:
        """An interactive login shell in the code directory, on this process's terminal; returns
        its exit status."""
        return int(self._native.shell(_name(name), None))

    def copy(self, sources: Union[StrPath, Sequence[StrPath]], target: StrPath, recursive: bool = False,
             verbose: bool = False, backend: Optional[str] = None, *,
             on_event: Optional[EventCallback] = None) -> CopyResult:
        """Copies between the host and one VM. VM paths are ``"NAME:path"`` (relative to the code
        directory; ``~`` is the guest home). Files copied into the VM are made accessible to the
        agent user. Returns what was copied. A bad host path raises UsageError before any
        limactl call; a link in the code dir, Error with code ``"refused"``; a failed copy, LimaError."""
        if isinstance(sources, (str, os.PathLike)):
            sources = [sources]
        return CopyResult._from(self._native.copy([os.fspath(s) for s in sources], os.fspath(target), recursive,
                                                  verbose, backend or "", self._sink(on_event)))

    @overload
    def logs(self, name: NameLike, unit: Optional[str] = None, args: Optional[Sequence[str]] = None, *,
             text: Literal[True] = True, on_event: Optional[EventCallback] = None) -> LogsResult[str]: ...

    @overload
    def logs(self, name: NameLike, unit: Optional[str] = None, args: Optional[Sequence[str]] = None, *,
             text: Literal[False], on_event: Optional[EventCallback] = None) -> LogsResult[bytes]: ...

    @overload
    def logs(self, name: NameLike, unit: Optional[str] = None, args: Optional[Sequence[str]] = None, *,
             text: bool, on_event: Optional[EventCallback] = None) -> Union[LogsResult[str], LogsResult[bytes]]: ...

    def logs(self, name: NameLike, unit: Optional[str] = None, args: Optional[Sequence[str]] = None, *,
             text: bool = True,
             on_event: Optional[EventCallback] = None) -> Union[LogsResult[str], LogsResult[bytes]]:
        """``journalctl -u UNIT`` in the guest, captured. ``unit`` defaults to the VM's one service
        recipe's unit; ``args`` default to ``--no-pager -n 100``. ``output`` is str
        (``text=True``) or bytes (``text=False``)."""
        r = self._native.logs(_name(name), unit or "", list(args or []), False, self._sink(on_event))
        output: bytes = r["output"]
        if text:
            return LogsResult(r["exit_code"], _text(output), r["unit"], r["duration"])
        return LogsResult(r["exit_code"], output, r["unit"], r["duration"])

    def ssh_config(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> str:
        """An OpenSSH config block ``Host dvm-NAME`` for a running VM (from its instance's own
        ``ssh.config``), for ``ssh dvm-NAME`` and editors with remote-SSH support. Save it in a
        file that an ``Include`` line of ``~/.ssh/config`` names; the port changes when the VM
        restarts.
        Raises :class:`Error` with code ``"not_running"`` for a stopped VM."""
        return str(self._native.ssh_config(_name(name), self._sink(on_event)))

    def ssh_key(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> SshKeys:
        """Creates (once) the VM's Git access key and commit-signing key; returns the public keys."""
        r = self._native.ssh_key(_name(name), self._sink(on_event))
        return SshKeys(r["access_public_key"], r["signing_public_key"], r["created"])

    def gpg_key(self, name: NameLike, *, on_event: Optional[EventCallback] = None) -> GpgKey:
        """Creates (once) the VM's signing-only GPG key; returns its public key."""
        r = self._native.gpg_key(_name(name), self._sink(on_event))
        return GpgKey(r["armored_public_key"], r["fingerprint"], r["created"])
