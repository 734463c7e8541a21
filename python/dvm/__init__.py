"""dvm: keep each software project in its own Lima VM, with safe defaults.

    import dvm

    client = dvm.Client()                      # config from $DVM_CONFIG, limactl from PATH
    for vm in client.list():
        print(vm.name, vm.state)
    result = client.sync("app", secrets={"GITHUB_TOKEN": token},
                         on_event=lambda e: print(e.kind, e.name))
    r = client.exec("app", ["git", "status"])  # r.exit_code is the guest command's
    try:
        client.status("nope")
    except dvm.NotFoundError as e:
        print(e.code, e.exit_code)             # "not_found" 2, as the CLI

The package is a Pythonic layer over the compiled extension ``dvm._dvm``, which wraps the C++
library libdvm (``dvm::client``). ``dvm.__version__`` is libdvm's version.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional

from . import _dvm
from ._client import Client, EventCallback, SecretValue, StrPath
from ._errors import ConfigError, Error, LimaError, NotFoundError, UnsavedWorkError, UsageError
from ._types import (
    ConfigProblem,
    CopyResult,
    DirtyProblem,
    DirtyReport,
    DirtyRepository,
    DoctorCheck,
    DoctorReport,
    DoctorStatus,
    Event,
    EventKind,
    ExecResult,
    GpgKey,
    InitResult,
    InitTemplate,
    Instance,
    LogsResult,
    Plan,
    PlannedCall,
    PortForward,
    Recipe,
    RecipeFreshness,
    RecipeSecret,
    RecipeService,
    RecipeState,
    RecipeTiming,
    RemoveResult,
    Severity,
    SshKeys,
    StartResult,
    StopAction,
    StopAllResult,
    StopOutcome,
    StopResult,
    SyncAllResult,
    SyncOutcome,
    SyncResult,
    Timeouts,
    Versions,
    VmConfig,
    VmState,
    VmStatus,
)

__version__: str = _dvm.__version__

__all__ = [
    "__version__",
    "Client",
    "EventCallback",
    "SecretValue",
    # errors
    "Error",
    "UsageError",
    "ConfigError",
    "NotFoundError",
    "LimaError",
    "UnsavedWorkError",
    # results
    "ConfigProblem",
    "CopyResult",
    "DirtyProblem",
    "DirtyReport",
    "DirtyRepository",
    "DoctorCheck",
    "DoctorReport",
    "DoctorStatus",
    "Event",
    "EventKind",
    "ExecResult",
    "GpgKey",
    "InitResult",
    "InitTemplate",
    "Instance",
    "LogsResult",
    "Plan",
    "PlannedCall",
    "PortForward",
    "Recipe",
    "RecipeFreshness",
    "RecipeSecret",
    "RecipeState",
    "RecipeService",
    "RecipeTiming",
    "RemoveResult",
    "Severity",
    "SshKeys",
    "StartResult",
    "StopAction",
    "StopAllResult",
    "StopOutcome",
    "StopResult",
    "SyncAllResult",
    "SyncOutcome",
    "SyncResult",
    "Timeouts",
    "Versions",
    "VmConfig",
    "VmState",
    "VmStatus",
    # helpers
    "error_codes",
    "format_size",
    "init_templates",
    "is_valid_vm_name",
    "parse_port_forward",
    "parse_size",
    "templates",
    "validate",
]


def parse_size(text: str) -> int:
    """Bytes of a size such as ``"2GiB"``, ``"1.5G"`` or ``"1000"`` (binary units, like Lima).
    Raises :class:`ConfigError` for a malformed size."""
    return int(_dvm.parse_size(text))


def format_size(size: int) -> str:
    """The shortest exact form of a size: ``"2GiB"``, ``"1536MiB"``, ``"1000"``."""
    return str(_dvm.format_size(size))


def is_valid_vm_name(name: str) -> bool:
    """``[a-z][a-z0-9-]*``, at most 30 characters, no trailing ``-``."""
    return bool(_dvm.is_valid_vm_name(name))


def parse_port_forward(text: str, default_ip: str = "127.0.0.1") -> PortForward:
    """Parses ``"host:guest"`` (bound to ``default_ip``) or ``"ip:host:guest"``; raises
    :class:`ConfigError` naming the broken rule."""
    return PortForward._from(_dvm.parse_port_forward(text, default_ip))


def init_templates() -> List[str]:
    """The names of the bundled templates of :meth:`Client.init_config`."""
    return list(_dvm.init_template_names())


def templates() -> List[InitTemplate]:
    """The bundled templates of :meth:`Client.init_config` with what each is for (``dvm
    templates``), sorted by name."""
    return [InitTemplate(t["name"], t["description"]) for t in _dvm.init_templates()]


def validate(config_dir: Optional[StrPath] = None,
             environment: Optional[Mapping[str, str]] = None) -> List[ConfigProblem]:
    """Every problem of every file of a config dir at once, errors and warnings, in file order
    (``config.toml``, ``recipes/``, ``vms/`` by name, then the environment; by line and column
    within a file). Never raises for what it finds. ``config_dir`` defaults to the one
    :class:`Client` would use (``$DVM_CONFIG``, ...); ``environment`` (default: this process's)
    is read for that and for ``DVM_TIMEOUT``::

        for p in dvm.validate():
            print(p.severity, p)   # error /home/you/.config/dvm/vms/app.toml:2:8: cpus: ...
    """
    native = _dvm.validate(None if config_dir is None else os.fspath(config_dir),
                           None if environment is None else dict(environment))
    return [ConfigProblem._from(p) for p in native]


def error_codes() -> Dict[str, int]:
    """Every error code (:attr:`Error.code`) with the CLI exit code it maps to."""
    return dict(_dvm.error_codes())
