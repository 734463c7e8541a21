"""The typed results of :class:`dvm.Client`: frozen dataclasses built from what the compiled
extension returns. Durations are in seconds (float); sizes in bytes (int); sequences are tuples.
The extension's dicts are named by libdvm/src/fields/dvm_fields.hpp, as the CLI's JSON is.
"""

from __future__ import annotations

import datetime
import enum
import subprocess
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Generic, Iterator, Mapping, Optional, Tuple, TypeVar

__all__ = [
    "EventKind",
    "Event",
    "PortForward",
    "VmStatus",
    "Instance",
    "StartResult",
    "InitTemplate",
    "ExecResult",
    "RecipeTiming",
    "SyncResult",
    "SyncOutcome",
    "SyncAllResult",
    "PlannedCall",
    "Plan",
    "StopOutcome",
    "StopAllResult",
    "DirtyRepository",
    "DirtyReport",
    "RemoveResult",
    "LogsResult",
    "SshKeys",
    "GpgKey",
    "InitResult",
    "Versions",
    "Recipe",
    "VmConfig",
    "Timeouts",
    "ConfigProblem",
    "Severity",
    "DoctorCheck",
    "DoctorReport",
]


class EventKind(str, enum.Enum):
    """What an :class:`Event` reports. A ``str`` enum: ``kind == "recipe_finished"`` works."""

    LIMACTL_STARTED = "limactl_started"    #: argv: the limactl call (never holds a secret)
    LIMACTL_FINISHED = "limactl_finished"  #: argv, exit_code, duration
    VM_CREATING = "vm_creating"
    VM_STARTING = "vm_starting"
    VM_STOPPING = "vm_stopping"
    VM_RECONCILING = "vm_reconciling"      #: message: what differs ("ports, cpus")
    VM_DELETING = "vm_deleting"
    #: name: the limactl subcommand ("create", "start"); message: one of Lima's progress lines;
    #: duration: since that limactl call began
    LIMA_PROGRESS = "lima_progress"
    GUEST_STARTED = "guest_started"        #: the guest program of a sync started
    RECIPE_STARTED = "recipe_started"      #: name: the recipe
    RECIPE_FINISHED = "recipe_finished"    #: name, duration
    RECIPE_FAILED = "recipe_failed"        #: name, exit_code, duration, message: last output lines
    RECIPE_SKIPPED = "recipe_skipped"      #: name: not run, its fingerprint is unchanged
    HOOK_STARTED = "hook_started"          #: the project hook <code_dir>/.dvm/sync.sh
    OUTPUT = "output"                      #: message: one line of guest output; name: the step
    WARNING = "warning"                    #: message
    SYNC_FINISHED = "sync_finished"        #: duration, exit_code (0: ok), message
    UNKNOWN = "unknown"                    #: a kind this version of the package does not know

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> "EventKind":
        return cls.UNKNOWN


class VmState(str, enum.Enum):
    """A VM's state, as C++ ``dvm::vm_state``: Lima's word for an instance's status, or
    ``"absent"``. A ``str`` enum: ``vm.state == "Running"`` works."""

    ABSENT = "absent"  #: configured, never created
    UNKNOWN = "Unknown"  #: also a status this version of dvm does not know
    UNINITIALIZED = "Uninitialized"
    INSTALLING = "Installing"
    BROKEN = "Broken"
    STOPPED = "Stopped"
    RUNNING = "Running"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def _missing_(cls, value: object) -> "VmState":
        return cls.UNKNOWN


class DoctorStatus(str, enum.Enum):
    """How bad a :class:`DoctorCheck` is (C++ ``dvm::doctor_status``)."""

    OK = "ok"
    WARNING = "warning"
    PROBLEM = "problem"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    """How serious a :class:`ConfigProblem` is (C++ ``dvm::severity``): an error stops every
    command that loads the VM; a warning is shown and the command goes on."""

    ERROR = "error"
    WARNING = "warning"

    def __str__(self) -> str:
        return self.value


class StopAction(str, enum.Enum):
    """What :meth:`Client.stop_all` did with one VM (C++ ``dvm::stop_action``)."""

    STOPPED = "stopped"
    SKIPPED = "skipped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Event:
    """A progress event. Delivered to ``on_event`` callbacks one at a time (also from
    :meth:`Client.sync_all`'s worker threads)."""

    kind: EventKind
    vm: str = ""  #: the VM's name (without "dvm-")
    name: str = ""  #: recipe name, limactl subcommand or output step
    argv: Tuple[str, ...] = ()
    exit_code: int = 0
    duration: float = 0.0  #: seconds
    message: str = ""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Event":
        return cls(kind=EventKind(d["kind"]), vm=d["vm"], name=d["name"], argv=tuple(d["argv"]),
                   exit_code=d["exit_code"], duration=d["duration"], message=d["message"])


@dataclass(frozen=True)
class PortForward:
    """One forwarded port: ``host_ip:host_port`` on the host -> ``guest_port`` in the guest."""

    host_ip: str
    host_port: int
    guest_port: int
    proto: str = "tcp"

    def __str__(self) -> str:
        return f"{self.host_ip}:{self.host_port}->{self.guest_port}/{self.proto}"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "PortForward":
        return cls(d["host_ip"], d["host_port"], d["guest_port"], d["proto"])


def _ports(items: Any) -> Tuple[PortForward, ...]:
    return tuple(PortForward._from(p) for p in items)


class RecipeFreshness(str, enum.Enum):
    """Where a recipe stands against the fingerprint recorded in the guest at its last successful
    run, as C++ ``dvm::recipe_freshness``."""

    UNKNOWN = "unknown"  #: the records were not read (the VM does not run, or no limactl)
    NEVER_RAN = "never_ran"  #: no record: it never ran to its end here (or a doctor check failed)
    CHANGED = "changed"  #: what it depends on changed since its last successful run
    CURRENT = "current"  #: unchanged since its last successful run
    #: unchanged on the host's side; the values of its secrets are compared only by a sync
    CURRENT_UNLESS_SECRETS_CHANGED = "current_unless_secrets_changed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class RecipeState:
    """One recipe as the next sync sees it (:attr:`Plan.recipes`, :attr:`VmStatus.recipe_states`)."""

    name: str
    freshness: RecipeFreshness = RecipeFreshness.UNKNOWN
    always: bool = False  #: the baseline or ``# Always: true``: runs whatever its fingerprint
    last_run: Optional[datetime.datetime] = None  #: end of its last successful run (UTC)
    will_run: bool = True  #: whether the next plain sync runs it
    every_sync: bool = False  #: its ``dvm_every_sync`` runs at every sync, even when it is skipped

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "RecipeState":
        last = d["last_run"]
        when = (datetime.datetime.strptime(last, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
                if last else None)
        return cls(d["name"], RecipeFreshness(d["freshness"]), d["always"], when, d["will_run"],
                   d["every_sync"])


@dataclass(frozen=True)
class VmStatus:
    """A VM as ``dvm ls`` / ``dvm status`` show it: :meth:`Client.list` and :meth:`Client.status`
    return the same fields, named as in C++ ``dvm::vm_status`` and in the CLI's JSON
    (docs/json.md)."""

    name: str  #: without "dvm-"
    instance: str  #: "dvm-<name>"
    state: VmState  #: Lima's status (RUNNING, STOPPED, BROKEN, ...) or ABSENT
    configured: bool  #: vms/<name>.toml exists
    ssh_address: str = ""  #: "127.0.0.1:60022" when known
    cpus: int = 0
    memory_bytes: int = 0
    disk_bytes: int = 0
    arch: str = ""
    vm_type: str = ""
    dir: str = ""  #: Lima's instance directory ("" when absent)
    ports: Tuple[PortForward, ...] = ()
    code_dir: str = ""
    recipes: Tuple[str, ...] = ()
    #: create-only settings the config changed since the instance was made, e.g.
    #: "vm_type (qemu in the VM, vz in the config)"; dvm rm + dvm sync applies them
    recreate_to_apply: Tuple[str, ...] = ()
    #: :meth:`Client.status` of a running VM: each recipe with when it last ran and whether its
    #: fingerprint is current (read from the guest); empty from :meth:`Client.list`
    recipe_states: Tuple[RecipeState, ...] = ()

    @property
    def running(self) -> bool:
        return self.state == VmState.RUNNING

    @property
    def exists(self) -> bool:
        """The Lima instance exists."""
        return self.state != VmState.ABSENT

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "VmStatus":
        return cls(name=d["name"], instance=d["instance"], state=VmState(d["state"]), configured=d["configured"],
                   ssh_address=d["ssh_address"], cpus=d["cpus"], memory_bytes=d["memory_bytes"],
                   disk_bytes=d["disk_bytes"], arch=d["arch"], vm_type=d["vm_type"], dir=d["dir"],
                   ports=_ports(d["ports"]), code_dir=d["code_dir"], recipes=tuple(d["recipes"]),
                   recreate_to_apply=tuple(d["recreate_to_apply"]),
                   recipe_states=tuple(RecipeState._from(r) for r in d["recipe_states"]))


Instance = VmStatus
"""Another name for :class:`VmStatus`."""


@dataclass(frozen=True)
class StartResult:
    """What :meth:`Client.start` / :meth:`Client.restart` did."""

    vm: str
    started: bool = False  #: False: it was already running (start); restart always starts

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "StartResult":
        return cls(d["vm"], d["started"])


@dataclass(frozen=True)
class InitTemplate:
    """A bundled template of :meth:`Client.init_config` (``dvm templates``)."""

    name: str
    description: str = ""  #: e.g. "a llama.cpp server on port 8080"


#: ``str`` (``text=True``, undecodable bytes replaced) or ``bytes`` (``text=False``)
OutputT = TypeVar("OutputT", str, bytes)


@dataclass(frozen=True)
class ExecResult(Generic[OutputT]):
    """A guest command's outcome. A non-zero ``exit_code`` is data, not an exception (255: the
    ssh connection failed). ``stdout``/``stderr`` are str (``text=True``, undecodable bytes
    replaced) or bytes (``text=False``): ``ExecResult[str]`` or ``ExecResult[bytes]``."""

    exit_code: int
    stdout: OutputT
    stderr: OutputT
    duration: float = 0.0  #: seconds
    argv: Tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check(self) -> "ExecResult[OutputT]":
        """Returns self when ``exit_code`` is 0, else raises :class:`subprocess.CalledProcessError`."""
        if self.exit_code != 0:
            raise subprocess.CalledProcessError(self.exit_code, list(self.argv), self.stdout, self.stderr)
        return self


@dataclass(frozen=True)
class RecipeTiming:
    name: str
    duration: float  #: seconds
    ok: bool = True
    #: not run: what it depends on (its fingerprint) is what it was at its last successful run
    skipped: bool = False

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "RecipeTiming":
        return cls(d["name"], d["duration"], d["ok"], d["skipped"])


@dataclass(frozen=True)
class SyncResult:
    """What :meth:`Client.sync` did."""

    vm: str
    created: bool = False  #: the instance was created
    started: bool = False  #: it was booted
    reconciled: Tuple[str, ...] = ()  #: what was changed: "ports", "cpus", "memory", "disk"
    recipes: Tuple[RecipeTiming, ...] = ()
    limactl_calls: int = 0
    duration: float = 0.0  #: seconds
    #: this sync's log: the guest program's whole output (``<state dir>/logs/<vm>.<UTC time>.log``,
    #: the newest 5 kept); ``None`` when it could not be written. A failed sync's message ends
    #: with the path.
    log: Optional[Path] = None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "SyncResult":
        return cls(vm=d["vm"], created=d["created"], started=d["started"], reconciled=tuple(d["reconciled"]),
                   recipes=tuple(RecipeTiming._from(r) for r in d["recipes"]),
                   limactl_calls=d["limactl_calls"], duration=d["duration"],
                   log=Path(d["log"]) if d["log"] is not None else None)


@dataclass(frozen=True)
class SyncOutcome:
    """One VM of :meth:`Client.sync_all`: its result, or the error code and message."""

    vm: str
    ok: bool
    result: Optional[SyncResult] = None  #: when ok
    error_code: str = ""  #: the dvm.Error code when not ok ("guest_failed", "cancelled", ...)
    message: str = ""

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "SyncOutcome":
        result = SyncResult._from(d["result"]) if d["result"] is not None else None
        return cls(d["vm"], d["ok"], result, d["error_code"], d["message"])


@dataclass(frozen=True)
class SyncAllResult:
    """Every VM of :meth:`Client.sync_all`, in name order. One failure does not stop the others."""

    outcomes: Tuple[SyncOutcome, ...]
    ok: int  #: how many VMs synced
    failed: int  #: how many did not

    def __iter__(self) -> Iterator[SyncOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "SyncAllResult":
        return cls(tuple(SyncOutcome._from(o) for o in d["outcomes"]), d["ok"], d["failed"])


@dataclass(frozen=True)
class PlannedCall:
    """One limactl call of a plan."""

    argv: Tuple[str, ...]  #: starts with "limactl"
    stdin: str = ""  #: what goes to its stdin, secrets redacted

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "PlannedCall":
        return cls(tuple(d["argv"]), d["stdin"])


@dataclass(frozen=True)
class Plan:
    """What :meth:`Client.sync` would do, without changing anything. ``recipes`` is read from the
    guest when the VM runs (one ``limactl list``, one read-only ``limactl shell``)."""

    vm: str
    instance: str
    lima_yaml: str  #: the instance config that would be created
    calls: Tuple[PlannedCall, ...]  #: for a machine where the VM does not exist yet
    guest_program: str  #: the sync program, every secret as <redacted>
    secrets: Tuple[str, ...] = ()  #: names of the secrets a sync would stage
    warnings: Tuple[str, ...] = ()
    #: the baseline and each recipe, in run order, and whether the next sync runs it
    recipes: Tuple[RecipeState, ...] = ()

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Plan":
        return cls(d["vm"], d["instance"], d["lima_yaml"], tuple(PlannedCall._from(c) for c in d["calls"]),
                   d["guest_program"], tuple(d["secrets"]), tuple(d["warnings"]),
                   tuple(RecipeState._from(r) for r in d["recipes"]))


@dataclass(frozen=True)
class StopOutcome:
    vm: str
    action: StopAction
    reason: str = ""  #: why skipped / failed (e.g. "active: tmux")


@dataclass(frozen=True)
class StopAllResult:
    outcomes: Tuple[StopOutcome, ...]
    stopped: int = 0
    skipped: int = 0
    failed: int = 0

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "StopAllResult":
        return cls(tuple(StopOutcome(o["vm"], StopAction(o["action"]), o["reason"]) for o in d["outcomes"]),
                   d["stopped"], d["skipped"], d["failed"])


@dataclass(frozen=True)
class DirtyRepository:
    path: str  #: relative to the code dir ("." for the code dir itself)
    reasons: Tuple[str, ...]  #: "unstaged changes", "untracked files", "stash", ...


@dataclass(frozen=True)
class DirtyProblem:
    """Something the unsaved-work check cannot vouch for (deletion is refused)."""

    #: "code_dir_symlink", "not_a_directory", "unreadable_directory", "git_symlink",
    #: "walk_failed" or "vm_file_missing"
    kind: str
    path: str = ""  #: relative to the code dir ("." for the code dir itself); may be empty
    message: str = ""


@dataclass(frozen=True)
class DirtyReport:
    """Unsaved work under a VM's code directory (:meth:`Client.check_unsaved_work`)."""

    repositories: Tuple[DirtyRepository, ...] = ()
    loose_files: Tuple[str, ...] = ()  #: up to 5 samples outside every repository
    loose_file_count: int = 0
    incomplete: bool = False  #: the check could not run completely (e.g. no git in the guest)
    incomplete_reason: str = ""
    problems: Tuple[DirtyProblem, ...] = ()  #: places the check cannot vouch for

    @property
    def clean(self) -> bool:
        return (not self.repositories and self.loose_file_count == 0 and not self.problems
                and not self.incomplete)

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "DirtyReport":
        return cls(tuple(DirtyRepository(r["path"], tuple(r["reasons"])) for r in d["repositories"]),
                   tuple(d["loose_files"]), d["loose_file_count"], d["incomplete"], d["incomplete_reason"],
                   tuple(DirtyProblem(p["kind"], p["path"], p["message"]) for p in d.get("problems", ())))


@dataclass(frozen=True)
class RemoveResult:
    vm: str
    removed: bool
    checked: bool = False  #: the unsaved-work check ran
    warnings: Tuple[str, ...] = ()

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "RemoveResult":
        return cls(d["vm"], d["removed"], d["checked"], tuple(d["warnings"]))


@dataclass(frozen=True)
class StopResult:
    """What :meth:`Client.stop` did: ``stopped`` is False when the VM was already stopped."""

    vm: str
    stopped: bool

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "StopResult":
        return cls(d["vm"], d["stopped"])


@dataclass(frozen=True)
class CopyResult:
    """What :meth:`Client.copy` copied. ``files``/``bytes``: the regular files in the sources and
    their size, counted where they are just before the copy (a source that is a link counts as
    its target; links inside a copied directory are not counted)."""

    vm: str
    into_vm: bool  #: host -> VM (False: VM -> host)
    sources: Tuple[str, ...]
    target: str
    files: int = 0
    bytes: int = 0
    duration: float = 0.0  #: seconds

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "CopyResult":
        return cls(d["vm"], d["into_vm"], tuple(d["sources"]), d["target"], d["files"], d["bytes"], d["duration"])


@dataclass(frozen=True)
class LogsResult(Generic[OutputT]):
    """``journalctl -u UNIT`` in the guest: its exit status and its captured output (str with
    ``text=True``, bytes with ``text=False``)."""

    exit_code: int
    output: OutputT
    unit: str = ""  #: the unit, as named or inferred from the VM's service recipe
    duration: float = 0.0  #: seconds

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass(frozen=True)
class SshKeys:
    """The VM's own SSH keys (created once): public halves only."""

    access_public_key: str  #: ~/.ssh/id_ed25519_dvm.pub
    signing_public_key: str  #: ~/.ssh/id_ed25519_dvm_signing.pub
    created: bool = False  #: False when both keys already existed


@dataclass(frozen=True)
class GpgKey:
    armored_public_key: str
    fingerprint: str
    created: bool = False


@dataclass(frozen=True)
class InitResult:
    path: Path
    created: bool  #: False: the file already existed and was left alone


@dataclass(frozen=True)
class Versions:
    dvm: str
    limactl: str = ""  #: "" when limactl is missing
    limactl_problem: str = ""  #: why limactl cannot be used, if it cannot

    @property
    def limactl_ok(self) -> bool:
        return bool(self.limactl) and not self.limactl_problem


@dataclass(frozen=True)
class RecipeService:
    """A recipe's ``# Service: UNIT [env=KEY]`` header line."""

    unit: str  #: e.g. "dvm-llama.service"
    env: str = ""  #: the [env] key that renames the unit ("" when none)


@dataclass(frozen=True)
class RecipeSecret:
    """A recipe's ``# Secret: NAME [alias=VAR] [prefix=TEXT] [charset=token]`` header line."""

    name: str
    alias: str = ""  #: a host variable read before ``name``
    prefix: str = ""  #: the value must start with this
    charset: str = "any"  #: "token": only A-Z a-z 0-9 . _ = -


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    bundled: bool = True  #: False for a user recipe ($DVM_CONFIG/recipes/NAME.sh)
    shadows_bundled: bool = False  #: a user recipe that replaces a bundled one
    path: Optional[Path] = None  #: the user recipe's file
    requires: Tuple[str, ...] = ()  #: ``# Requires:``: recipes that must come earlier
    service: Optional[RecipeService] = None  #: ``# Service:``
    secrets: Tuple[RecipeSecret, ...] = ()  #: ``# Secret:`` lines, in file order
    always: bool = False  #: ``# Always: true``: runs at every sync, changed or not
    has_check: bool = False  #: it defines ``dvm_check``, which ``dvm doctor`` runs
    has_every_sync: bool = False  #: it defines ``dvm_every_sync``, which every sync runs

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "Recipe":
        service = d.get("service")
        return cls(d["name"], d["description"], d["bundled"], d["shadows_bundled"],
                   Path(d["path"]) if d["path"] else None,
                   tuple(d.get("requires", ())),
                   RecipeService(service["unit"], service["env"]) if service else None,
                   tuple(RecipeSecret(s["name"], s["alias"], s["prefix"], s["charset"])
                         for s in d.get("secrets", ())),
                   bool(d.get("always", False)), bool(d.get("has_check", False)),
                   bool(d.get("has_every_sync", False)))


@dataclass(frozen=True)
class VmConfig:
    """The validated configuration of one VM: config.toml [defaults] merged with vms/NAME.toml."""

    name: str
    file: Path
    instance: str
    cpus: int
    memory_bytes: int
    disk_bytes: int
    arch: str
    vm_type: str
    image: str
    user: str
    code_dir: str  #: guest path, absolute or "~/..." (the guest home)
    host_ip: str
    ports: Tuple[PortForward, ...] = ()
    baseline: bool = True
    recipes: Tuple[str, ...] = ()  #: sets expanded, duplicates removed
    agent_user: str = "dvm-agent"
    secrets: Tuple[str, ...] = ()  #: host environment variable names
    env: Dict[str, str] = field(default_factory=dict)  #: [env], values as text
    warnings: Tuple[str, ...] = ()

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> "VmConfig":
        return cls(name=d["name"], file=Path(d["file"]), instance=d["instance"], cpus=d["cpus"],
                   memory_bytes=d["memory_bytes"], disk_bytes=d["disk_bytes"], arch=d["arch"],
                   vm_type=d["vm_type"], image=d["image"], user=d["user"], code_dir=d["code_dir"],
                   host_ip=d["host_ip"], ports=_ports(d["ports"]), baseline=d["baseline"],
                   recipes=tuple(d["recipes"]), agent_user=d["agent_user"], secrets=tuple(d["secrets"]),
                   env=dict(d["env"]), warnings=tuple(d["warnings"]))


@dataclass(frozen=True)
class ConfigProblem:
    """One finding of :func:`dvm.validate` (C++ ``dvm::config_problem``), located as a
    :class:`ConfigError` is; ``str()`` reads like a ConfigError's message."""

    path: Optional[Path]  #: the config file; ``None`` for the environment (``DVM_TIMEOUT``)
    line: Optional[int]  #: 1-based; ``None`` when the finding is about the whole file
    column: Optional[int]  #: 1-based; ``None`` when unknown
    key: str  #: the key path, e.g. ``"ports[1]"``, ``"defaults.cpus"``; ``""`` for none
    rule: str  #: the rule broken, without the location
    severity: Severity
    vm: str = ""  #: the VM whose check found it; ``""`` for config.toml, recipes/, the environment

    def __str__(self) -> str:
        if self.path is None:
            return self.rule  # the rule names the variable
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return f"{where}: {self.key}: {self.rule}" if self.key else f"{where}: {self.rule}"

    @classmethod
    def _from(cls, d: Dict[str, Any]) -> "ConfigProblem":
        line, column = int(d["line"]), int(d["column"])
        return cls(Path(d["file"]) if d["file"] else None, line or None, column or None,
                   str(d["key"]), str(d["rule"]), Severity(d["severity"]), str(d["vm"]))


@dataclass(frozen=True)
class DoctorCheck:
    """One finding of :meth:`Client.doctor`."""

    vm: str  #: "" for checks that are not about one VM
    name: str  #: "limactl", "config", "ports", "permissions", "secrets", "drift"
    status: DoctorStatus
    message: str = ""


@dataclass(frozen=True)
class DoctorReport:
    """Every finding of :meth:`Client.doctor`; findings are data, never exceptions."""

    checks: Tuple[DoctorCheck, ...] = ()

    @property
    def problems(self) -> Tuple[DoctorCheck, ...]:
        return tuple(c for c in self.checks if c.status == DoctorStatus.PROBLEM)

    @property
    def warnings(self) -> Tuple[DoctorCheck, ...]:
        return tuple(c for c in self.checks if c.status == DoctorStatus.WARNING)

    @property
    def ok(self) -> bool:
        """No problem was found (warnings allowed)."""
        return not self.problems

    def __iter__(self) -> Iterator[DoctorCheck]:
        return iter(self.checks)


@dataclass(frozen=True)
class Timeouts:
    """Time limits of limactl calls in seconds; ``None`` keeps libdvm's default, ``0`` means none."""

    query: Optional[float] = None  #: limactl --version, list (default 60)
    create: Optional[float] = None  #: create, which downloads the image (default 30 min)
    start: Optional[float] = None  #: (default 15 min)
    stop: Optional[float] = None  #: graceful stop, then stop -f (default 5 min)
    change: Optional[float] = None  #: edit, delete (default 5 min)
    guest: Optional[float] = None  #: a sync's guest program (default 2 h)
    command: Optional[float] = None  #: guest scripts of remove, stop_all(inactive_only), keys (10 min)

    @classmethod
    def all(cls, seconds: float) -> "Timeouts":
        """The same limit for every kind of call."""
        return cls(**{f.name: seconds for f in fields(cls)})

    def _native(self) -> Dict[str, float]:
        return {f.name: float(getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None}
