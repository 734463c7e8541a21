"""create / start / stop / delete / edit / protect / unprotect."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

from . import LIMACTL
from . import store
from .units import parse_duration


# --------------------------------------------------------------------------------------------
# helpers


def dump_yaml(data):
    """Serialize an edited lima.yaml (yq keeps the original formatting; we keep key order and
    write multi-line strings such as provision scripts as literal blocks)."""
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
        pass

    def str_rep(dumper, s):
        if "\n" in s and all(c == "\n" or c.isprintable() for c in s) and not s.startswith((" ", "\n")):
            return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", s)
    Dumper.add_representer(str, str_rep)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True,
                     width=4096)


def apply_exprs(data, exprs):
    from . import yq
    for e in exprs:
        data = yq.evaluate(e, data)
    return data


def exists(sim, name):
    return os.path.isdir(sim.inst_dir(name))


def fatal_not_found_yaml(ctx, name):
    ctx.log.fatal("open %s: no such file or directory" % os.path.join(ctx.sim.inst_dir(name), "lima.yaml"))


def check_name(ctx, name):
    err = store.valid_name(name)
    if err:
        ctx.log.fatal("instance name %s is not a valid identifier: %s" % (ctx.sim.q(name), err))
    sock = os.path.join(ctx.sim.inst_dir(name), "ssh.sock.1234567890123456")
    if len(sock) >= store.UNIX_PATH_MAX:
        ctx.log.fatal("instance name %s too long: %s must be less than UNIX_PATH_MAX=%d characters, but is %d"
                      % (ctx.sim.q(name), _q(sock), store.UNIX_PATH_MAX, len(sock)))


def _q(s):
    from .log import go_quote
    return go_quote(s)


def ensure_user_key(sim):
    d = os.path.join(sim.lima_home, "_config")
    key = os.path.join(d, "user")
    if os.path.exists(key):
        return
    os.makedirs(d, exist_ok=True)
    r = subprocess.run(["ssh-keygen", "-t", "ed25519", "-q", "-N", "", "-C", "lima", "-f", key],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0 and not os.path.exists(key):
        # No ssh-keygen: leave a marker so identityFile paths still exist.
        with open(key, "w") as f:
            f.write("limasim placeholder key\n")
        os.chmod(key, 0o600)


def build_config(ctx, text, where, exprs):
    """Embed bases, apply yq edits, validate. Returns (data, yaml_text)."""
    from .templates import TemplateError, embed, load_yaml
    from .yq import YqError
    try:
        y = load_yaml(text.decode("utf-8", "replace"), where)
    except TemplateError as e:
        ctx.log.fatal(str(e))
    default_base = os.path.join(ctx.sim.lima_home, "_config", "base.yaml")
    if os.path.isfile(default_base):
        # `_config/base.yaml` is prepended to the template's bases at create
        # (upstream/pkg/limatmpl/embed.go:49-66)
        b = y.get("base")
        y["base"] = [default_base] + ([] if b is None else [b] if isinstance(b, (str, dict)) else list(b))
    had_base = "base" in y
    try:
        y = embed(ctx.sim, y, os.path.dirname(where) if os.path.isabs(where) else None)
    except TemplateError as e:
        ctx.log.fatal(str(e))
    try:
        y2 = apply_exprs(y, exprs)
    except YqError as e:
        ctx.log.fatal("failed to evaluate the yq expression: %s" % e)
    if not had_base and not exprs:
        return y2, text.decode("utf-8", "surrogateescape")
    return y2, dump_yaml(y2)


def validate_or_die(ctx, y, name, yaml_text, save_rejected):
    errs, warns = store.validate(ctx.sim, y, name)
    for w in warns:
        ctx.log.warn(w)
    if errs:
        msg = "\n".join(errs)
        if save_rejected:
            rej = "lima.REJECTED.yaml"
            try:
                with open(rej, "w") as f:
                    f.write(yaml_text)
                ctx.log.fatal("the YAML is invalid, saved the buffer as %s: %s" % (_q(rej), msg))
            except OSError as e:
                ctx.log.fatal("the YAML is invalid, attempted to save the buffer as %s but failed: %s: %s"
                              % (_q(rej), e, msg))
        ctx.log.fatal(msg)


def create_instance(ctx, name, text, where, exprs):
    sim = ctx.sim
    check_name(ctx, name)
    d = sim.inst_dir(name)
    if os.path.exists(d):
        ctx.log.fatal("instance %s already exists (%s)" % (ctx.sim.q(name), _q(d)))
    if not ctx.tty:
        ctx.log.info("Terminal is not available, proceeding without opening an editor")
    y, yaml_text = build_config(ctx, text, where, exprs)
    _vm_type, err = store.resolve_vm_type(sim, store.merge_layers(sim, y, name, d))
    if err:  # instance.Create resolves the driver before anything is written (ResolveVMType)
        ctx.log.fatal("failed to accept config for %s: %s" % (_q(os.path.join(d, "lima.yaml")), err))
    validate_or_die(ctx, y, name, yaml_text, save_rejected=False)  # stdin: nothing to save
    os.makedirs(sim.lima_home, exist_ok=True)
    os.mkdir(d, 0o755)
    try:
        with open(os.path.join(d, "lima.yaml"), "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(yaml_text)
        with open(os.path.join(d, "lima-version"), "w") as f:
            f.write(sim.info_version)
        ensure_user_key(sim)
        with open(os.path.join(d, "cloud-config.yaml"), "w") as f:
            f.write("#cloud-config\n# limasim: not used, present for realism\nhostname: %s\n"
                    % store.hostname_for(name))
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    store.drop_cache(sim, name)
    # `limactl create` runs instance.Prepare only after instance.Create wrote the directory
    # (upstream/cmd/limactl/start.go:571-579), so a driver that refuses the config leaves the
    # instance behind, Stopped (upstream/pkg/instance/start.go:81).
    prepare_or_die(ctx, name, y)
    # "prepare" phase: the disk image download (nothing to download here) and the guest root.
    arch = store.resolve_arch(sim, y.get("arch"))
    for im in y.get("images") or []:
        if isinstance(im, dict) and im.get("arch", arch) == arch:
            fields = {"arch": arch, "location": im.get("location")}
            if im.get("digest"):
                fields["digest"] = im["digest"]
            ctx.log.info("Attempting to download the image", **fields)
            ctx.log.info("Using cache %s" % _q(os.path.join(sim.lima_home, "_sim", "image-cache", "data")))
            break
    from . import sandbox
    try:
        mode, _reason = sandbox.mode(sim)
    except RuntimeError:
        mode = "off"
    if mode == "on":
        sandbox.init_guest_root(d, name)
    return d


def prepare_or_die(ctx, name, y):
    """instance.Prepare's driver validation (upstream/pkg/instance/start.go:81): vz refuses a
    non-native arch (upstream/pkg/driver/vz/vz_driver_darwin.go:301-303)."""
    sim = ctx.sim
    cfg = store.fill_defaults(sim, y, name, sim.inst_dir(name), sim.info_version)
    err = store.driver_validate(sim, cfg)
    if err:
        ctx.log.fatal(err)


# --------------------------------------------------------------------------------------------
# create


def cmd_create(ctx):
    """dvm's only form: `create --tty=false --name NAME --mount-none -` (driver.cpp create_args)."""
    name = ctx.p.get("name")
    if ctx.args != ["-"]:
        ctx.log.fatal("limasim: `limactl create` other than `--name NAME -` is not simulated")
    # upstream/cmd/limactl/start.go:259-269
    if not name:
        ctx.log.fatal("must pass instance name with --name when reading template from stdin")
    if ctx.tty and "tty" in ctx.p.changed:
        ctx.log.fatal("cannot use --tty=true when reading template from stdin")
    ctx.tty = False
    # Lima's editflags turn --mount-none into this expression (cmd/limactl/editflags, not in the
    # stored upstream subset).
    exprs = [".mounts = null"] if ctx.p.get("mount-none") else []
    create_instance(ctx, name, ctx.read_stdin(), "-", exprs)
    ctx.log.info("Run `limactl start %s` to start the instance." % name)
    return 0


# --------------------------------------------------------------------------------------------
# start


def cmd_start(ctx):
    sim = ctx.sim
    if len(ctx.args) != 1:
        ctx.arg_error("accepts 1 arg(s), received %d" % len(ctx.args))
    try:
        timeout = parse_duration(ctx.p.get("timeout") or "10m0s")
    except ValueError as e:
        ctx.log.fatal('invalid argument "%s" for "--timeout" flag: %s' % (ctx.p.get("timeout"), e))
    if timeout <= 0:
        timeout = 600.0
    name = ctx.args[0]
    if not exists(sim, name):
        # Lima would create it from template:default: dvm must never ask for that
        # (shared/spec/lima-contract.md), so the simulator refuses loudly.
        ctx.log.fatal("limasim: `limactl start %s` of an unknown instance (it would create one) is not simulated"
                      % name)
    return boot(ctx, name, timeout)


def boot(ctx, name, timeout, quiet_ready=False):
    # Serialize concurrent starts of one instance: the second one sees "already running".
    from .calls import Locked
    locks = os.path.join(ctx.sim.ensure_sim_dir(), "locks")
    os.makedirs(locks, exist_ok=True)
    with Locked(os.path.join(locks, name + ".start.lock")):
        return _boot(ctx, name, timeout, quiet_ready)


def _boot(ctx, name, timeout, quiet_ready):
    sim = ctx.sim
    inst = store.inspect(sim, name)
    if inst.raw is None and inst.errors and not inst.missing_yaml:  # upstream/cmd/limactl/start.go:598-600
        ctx.log.fatal("errors inspecting instance: [%s]" % " ".join(inst.errors))
    if inst.status == "Running":
        ctx.log.info("The instance %s is already running. Run `%s` to open the shell."
                     % (ctx.sim.q(name), "limactl shell " + name if name != "default" else "lima"))
        return 0
    if inst.status == "Broken":
        ctx.log.warn("The instance %s is in status %s; trying to start it anyway" % (ctx.sim.q(name), _q(inst.status)))
    d = inst.dir
    if inst.raw is not None:
        prepare_or_die(ctx, name, inst.raw)
    for f in ("ha.pid", "%s.pid" % (getattr(inst, "vm_type", "qemu")), "ha.sock", "ha.stdout.log",
              "ha.stderr.log"):
        try:
            os.unlink(os.path.join(d, f))
        except OSError:
            pass
    sim.ensure_sim_dir()
    vm_type = getattr(inst, "vm_type", "qemu")
    ctx.log.info("Starting the instance %s with internal VM driver %s" % (ctx.sim.q(name), _q(vm_type)))
    out = open(os.path.join(d, "ha.stdout.log"), "ab")
    err = open(os.path.join(d, "ha.stderr.log"), "ab")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "USER", "LOGNAME", "LANG", "TMPDIR")
           or k.startswith("LC_")}
    env["LIMA_HOME"] = sim.lima_home
    env.pop("LIMASIM_INTERNAL", None)
    argv = [sys.executable, "-I", LIMACTL, "hostagent", "--pidfile", os.path.join(d, "ha.pid"),
            "--socket", os.path.join(d, "ha.sock"), name]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, close_fds=True,
                            start_new_session=True, cwd="/", env=env)
    out.close()
    err.close()
    ok, why = wait_events(ctx, d, proc, timeout)
    if not ok:
        ctx.log.fatal(why)
    if not quiet_ready:
        ctx.log.info("READY. Run `%s` to open the shell." % ("limactl shell " + name if name != "default" else "lima"))
        inst = store.inspect(sim, name)
        if inst.raw and inst.raw.get("message"):
            cfg = store.fill_defaults(sim, inst.raw, name, d, inst.lima_version)
            ctx.log.info("Message from the instance %s:" % ctx.sim.q(name))
            sys.stdout.write(store.render_message(inst.raw["message"], inst, cfg).rstrip("\n") + "\n")
    return 0


class Tail:
    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.buf = b""

    def lines(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        self.buf += data
        *complete, self.buf = self.buf.split(b"\n")
        return [c.decode("utf-8", "replace") for c in complete if c.strip()]


def relay(ctx, line):
    try:
        rec = json.loads(line)
        level = rec.pop("level", "info")
        msg = rec.pop("msg", "")
        rec.pop("time", None)
    except ValueError:
        level, msg, rec = "info", line, {}
    if level not in ("trace", "debug", "info", "warning", "error", "fatal", "panic"):
        level = "info"
    if level in ("fatal", "panic"):
        level = "error"
    ctx.log.log(level, "[hostagent] " + msg, **rec)


def wait_events(ctx, d, proc, timeout):
    ev = Tail(os.path.join(d, "ha.stdout.log"))
    lg = Tail(os.path.join(d, "ha.stderr.log"))
    deadline = time.time() + timeout
    last = {}
    while True:
        for line in lg.lines():
            relay(ctx, line)
        for line in ev.lines():
            try:
                last = json.loads(line).get("status", {})
            except ValueError:
                continue
            if last.get("running"):
                return True, None
            if last.get("exiting"):
                for l2 in lg.lines():
                    relay(ctx, l2)
                return False, "exiting, status=%s (hint: see %s)" % (_status_str(last),
                                                                      _q(os.path.join(d, "ha.stderr.log")))
        if proc.poll() is not None:
            for line in lg.lines():
                relay(ctx, line)
            return False, "exiting, status=%s (hint: see %s)" % (_status_str(last or {"exiting": True}),
                                                                  _q(os.path.join(d, "ha.stderr.log")))
        if time.time() > deadline:
            return False, 'did not receive an event with the "running" status'
        time.sleep(0.02)


def _status_str(st):
    return "{Running:%s Degraded:%s Exiting:%s Errors:%s SSHLocalPort:%d}" % (
        str(bool(st.get("running"))).lower(), str(bool(st.get("degraded"))).lower(),
        str(bool(st.get("exiting"))).lower(), "[" + " ".join(st.get("errors") or []) + "]",
        int(st.get("sshLocalPort") or 0))


# --------------------------------------------------------------------------------------------
# stop


def cmd_stop(ctx):
    if len(ctx.args) != 1:  # dvm stops one instance per call
        ctx.log.fatal("limasim: `limactl stop` of other than one instance is not simulated")
    stop_one(ctx, ctx.args[0], ctx.p.get("force"))
    return 0


def stop_one(ctx, name, force):
    sim = ctx.sim
    try:
        inst = store.inspect(sim, name)
    except FileNotFoundError:
        fatal_not_found_yaml(ctx, name)
    if getattr(inst, "missing_yaml", False):
        fatal_not_found_yaml(ctx, name)
    if force:
        force_stop(ctx, inst)
        return
    if inst.status != "Running":
        ctx.log.fatal('expected status "Running", got %s (maybe use `limactl stop -f`?)' % _q(inst.status))
    d = inst.dir
    lg = Tail(os.path.join(d, "ha.stderr.log"))
    lg.lines()  # skip what start already relayed
    ctx.log.info("Sending SIGINT to hostagent process %d" % inst.ha_pid)
    try:
        os.kill(inst.ha_pid, signal.SIGINT)
    except ProcessLookupError:
        pass
    ctx.log.info("Waiting for the host agent and the driver processes to shut down")
    deadline = time.time() + 180
    while store.pid_alive(inst.ha_pid):
        for line in lg.lines():
            relay(ctx, line)
        if time.time() > deadline:
            ctx.log.fatal('did not receive an event with the "exiting" status')
        time.sleep(0.02)
    for line in lg.lines():
        relay(ctx, line)
    _wait_gone(inst.driver_pid, 5.0)
    ctx.log.info("Waiting for the instance to shut down")
    ctx.log.info("The instance %s has shut down" % ctx.sim.q(name))


def force_stop(ctx, inst):
    vm = getattr(inst, "vm_type", "qemu")
    # Kill the driver (sandbox PID 1) first so that bwrap's monitor can still reap it,
    # then the host agent.
    if inst.driver_pid:
        ctx.log.info("Sending SIGKILL to the %s process %d" % (vm, inst.driver_pid))
        _kill(inst.driver_pid, signal.SIGKILL)
        _wait_gone(inst.driver_pid, 5.0)
    if inst.ha_pid:
        ctx.log.info("Sending SIGKILL to the host agent process %d" % inst.ha_pid)
        _kill(inst.ha_pid, signal.SIGKILL)
    else:
        ctx.log.info("The host agent process seems already stopped")
    if not inst.driver_pid:
        ctx.log.info("The %s driver process seems already stopped" % vm)
    _wait_gone(inst.ha_pid, 5.0)
    ctx.log.info("Removing *.pid *.sock *.tmp under %s" % _q(inst.dir))
    try:
        entries = os.listdir(inst.dir)
    except FileNotFoundError:
        entries = []
    for f in entries:
        if f.endswith((".pid", ".sock", ".tmp")) or re.match(r".*\.sock\.\w+$", f):
            p = os.path.join(inst.dir, f)
            ctx.log.info("Removing %s" % _q(p))
            try:
                os.unlink(p)
            except OSError:
                pass


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(pid, timeout):
    if not pid:
        return
    deadline = time.time() + timeout
    while store.pid_alive(pid) and time.time() < deadline:
        time.sleep(0.01)


# --------------------------------------------------------------------------------------------
# delete


def cmd_delete(ctx):
    if not ctx.args:
        ctx.arg_error("requires at least 1 arg(s), only received 0")
    sim = ctx.sim
    for name in ctx.args:
        try:
            inst = store.inspect(sim, name)
        except FileNotFoundError:
            ctx.log.warn("Ignoring non-existent instance %s" % ctx.sim.q(name))
            continue
        if getattr(inst, "missing_yaml", False):
            ctx.log.fatal("instance %s directory %s exists but its \"lima.yaml\" could not be read; it was NOT "
                          "deleted (remove it manually if it is not needed)" % (ctx.sim.q(name), _q(inst.dir)))
        if inst.protected:
            ctx.log.fatal("failed to delete instance %s: instance is protected to prohibit accidental removal "
                          "(Hint: use `limactl unprotect`)" % ctx.sim.q(name))
        if not ctx.p.get("force") and inst.status != "Stopped":
            ctx.log.fatal("failed to delete instance %s: expected status %s, got %s"
                          % (ctx.sim.q(name), _q("Stopped"), _q(inst.status)))
        if inst.status != "Stopped" or inst.ha_pid or inst.driver_pid:
            force_stop(ctx, inst)
        remove_tree(inst.dir)
        store.drop_cache(sim, name)
        ctx.log.info("Deleted %s (%s)" % (ctx.sim.q(name), _q(inst.dir)))
    return 0


def remove_tree(path):
    def onerror(func, p, exc):
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass
    for _ in range(3):
        shutil.rmtree(path, onerror=onerror)
        if not os.path.exists(path):
            return
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------
# edit


def _edit_in_place(ctx, name, exprs, save_rejected=True):
    """Apply yq expressions to <inst>/lima.yaml. Returns True when the file changed."""
    from .templates import TemplateError, load_yaml
    from .yq import YqError
    from .units import ram_in_bytes
    sim = ctx.sim
    path = os.path.join(sim.inst_dir(name), "lima.yaml")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        old_text = f.read()
    try:
        old = load_yaml(old_text, path)
    except TemplateError as e:
        ctx.log.fatal(str(e))
    try:
        new = apply_exprs(old, exprs)
    except YqError as e:
        ctx.log.fatal("failed to evaluate the yq expression: %s" % e)
    if new == old:
        ctx.log.info("Aborting, no changes made to the instance")
        return False
    new_text = dump_yaml(new)
    _vm_type, err = store.resolve_vm_type(sim, store.merge_layers(sim, new, name, sim.inst_dir(name)))
    if err:  # upstream/cmd/limactl/edit.go:136 (before validation, no REJECTED file)
        ctx.log.fatal(err)
    validate_or_die(ctx, new, name, new_text, save_rejected=save_rejected)
    # edit also runs the driver's Validate on the new config (upstream/cmd/limactl/edit.go:150-152)
    err = store.driver_validate(sim, store.fill_defaults(sim, new, name, sim.inst_dir(name), sim.info_version))
    if err:
        if save_rejected:
            with open("lima.REJECTED.yaml", "w") as f:
                f.write(new_text)
            ctx.log.fatal("the YAML is invalid, saved the buffer as %s: %s" % (_q("lima.REJECTED.yaml"), err))
        ctx.log.fatal(err)
    # Lima compares against the current disk: it cannot shrink it.
    try:
        old_disk = ram_in_bytes(old.get("disk") if old.get("disk") is not None else "100GiB")
        new_disk = ram_in_bytes(new.get("disk") if new.get("disk") is not None else "100GiB")
    except ValueError:
        old_disk = new_disk = 0
    if new_disk < old_disk:
        from .units import bytes_size
        msg = "field `disk`: shrinking the disk (%s --> %s) is not supported" % (bytes_size(old_disk),
                                                                                 bytes_size(new_disk))
        if save_rejected:
            with open("lima.REJECTED.yaml", "w") as f:
                f.write(new_text)
            ctx.log.fatal("the YAML is invalid, saved the buffer as %s: %s" % (_q("lima.REJECTED.yaml"), msg))
        ctx.log.fatal(msg)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(new_text)
    os.replace(tmp, path)
    store.drop_cache(sim, name)
    return True


def cmd_edit(ctx):
    sim = ctx.sim
    if len(ctx.args) != 1:
        ctx.log.fatal("limasim: `limactl edit` of other than one instance is not simulated")
    name = ctx.args[0]
    try:
        inst = store.inspect(sim, name)
    except FileNotFoundError:
        ctx.log.fatal("instance %s not found" % ctx.sim.q(name))
    if inst.status == "Running":
        ctx.log.fatal("cannot edit a running instance")
    exprs = ctx.p.get("set") or []
    if not exprs:
        ctx.log.fatal("limasim: `limactl edit` without --set (an editor) is not simulated")
    if _edit_in_place(ctx, name, exprs, save_rejected=True):
        ctx.log.info("Instance %s configuration edited" % ctx.sim.q(name))
    return 0


# --------------------------------------------------------------------------------------------
# protect / unprotect


def cmd_protect(ctx, protect=True):
    """upstream/cmd/limactl/protect.go, unprotect.go: skip (with a warning) what is already in the
    wanted state, collect the errors and fail once at the end."""
    if not ctx.args:
        ctx.arg_error("requires at least 1 arg(s), only received 0")
    errs = []
    for name in ctx.args:
        try:
            inst = store.inspect(ctx.sim, name)
        except FileNotFoundError:
            errs.append("failed to inspect instance %s: open %s: no such file or directory"
                        % (ctx.sim.q(name), os.path.join(ctx.sim.inst_dir(name), "lima.yaml")))
            continue
        p = os.path.join(inst.dir, "protected")
        if protect:
            if inst.protected:
                ctx.log.warn("Instance %s is already protected. Skipping." % ctx.sim.q(name))
                continue
            with open(p, "w"):
                pass
            os.chmod(p, 0o400)
            ctx.log.info("Protected %s" % ctx.sim.q(name))
        else:
            if not inst.protected:
                ctx.log.warn("Instance %s isn't protected. Skipping." % ctx.sim.q(name))
                continue
            os.unlink(p)
            ctx.log.info("Unprotected %s" % ctx.sim.q(name))
    if errs:
        ctx.log.fatal("\n".join(errs))
    return 0


def cmd_unprotect(ctx):
    return cmd_protect(ctx, protect=False)
