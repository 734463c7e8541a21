"""Instance store: lima.yaml loading, default filling, validation, status and list JSON."""

import json
import os
import platform
import pwd
import re

from .units import bytes_size, ram_in_bytes

NAME_RE = re.compile(r"^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$")
LINUX_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]*\$?$")
UNIX_PATH_MAX = 108

KNOWN_KEYS = [
    "base", "minimumLimaVersion", "vmType", "vmOpts", "os", "arch", "images", "cpuType", "cpus",
    "memory", "disk", "additionalDisks", "mounts", "mountTypesUnsupported", "mountType",
    "mountInotify", "ssh", "firmware", "audio", "video", "provision", "upgradePackages",
    "containerd", "guestInstallPrefix", "probes", "portForwards", "copyToHost", "message",
    "networks", "env", "param", "dns", "hostResolver", "propagateProxyEnv", "caCerts", "rosetta",
    "plain", "timezone", "nestedVirtualization", "user", "tpm",
]
ARCHES = ("x86_64", "aarch64", "armv7l", "riscv64", "s390x", "ppc64le")
PROVISION_MODES = ("system", "user", "boot", "dependency", "data", "yq", "ansible")
DEFAULT_NETWORKS = ("user-v2", "shared", "bridged", "host")
NETWORK_RESERVED_PREFIX = "lima"


class ValidationError(Exception):
    pass


def host_arch(sim=None):
    """The host's architecture: `_sim/config.json` `host_arch`, else this machine's."""
    if sim is not None and sim.get("host_arch"):
        return str(sim.get("host_arch"))
    m = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def host_os(sim):
    """"linux" or "darwin" (`_sim/config.json` `host_os`): which drivers exist and what they accept."""
    return str(sim.get("host_os") or "linux").lower()


def registered_drivers(sim):
    # Lima registers vz only in darwin builds (pkg/driver/vz/*_darwin.go); qemu everywhere.
    return ("qemu", "vz") if host_os(sim) == "darwin" else ("qemu",)


def is_native_arch(sim, arch):
    # upstream/pkg/limatype/lima_yaml.go:408-416 (compares with runtime.GOARCH)
    return arch == host_arch(sim)


def default_vm_type(sim, arch):
    """The driver Lima picks for a config without vmType: vz on a Mac for the native arch,
    qemu otherwise (upstream/pkg/driverutil/vm.go ResolveVMType, limatype.DefaultDriver)."""
    if host_os(sim) == "darwin" and is_native_arch(sim, arch):
        return "vz"
    return "qemu"


def resolve_arch(sim, arch):
    # upstream/pkg/limayaml/defaults.go:1082-1087
    return host_arch(sim) if not arch or arch == "default" else arch


def resolve_vm_type(sim, y):
    """Returns (vmType, error): upstream/pkg/driverutil/vm.go validateConfigAgainstDriver refuses a
    vmType that no registered driver provides."""
    vt = y.get("vmType")
    if not vt:
        return default_vm_type(sim, resolve_arch(sim, y.get("arch"))), None
    if vt not in registered_drivers(sim):
        return vt, "vmType %s is not a registered driver" % json.dumps(str(vt))
    return vt, None


def driver_validate(sim, cfg):
    """The driver's Validate (run by `instance.Prepare`, upstream/pkg/instance/start.go:81, and by
    `edit`): the vz checks of upstream/pkg/driver/vz/vz_driver_darwin.go:261-303. None when fine."""
    from .log import go_quote
    if cfg.get("vmType") != "vz":
        return None

    def bq(s):  # Go %#q
        return "`%s`" % s if "`" not in s else go_quote(s)
    if cfg.get("mountType") == "9p":
        return "field `mountType` must be %s or %s for VZ driver , got %s" % (
            bq("reverse-sshfs"), bq("virtiofs"), bq("9p"))
    if not is_native_arch(sim, cfg["arch"]):
        return "unsupported arch: %s" % bq(cfg["arch"])
    return None


def hostname_for(name):
    return "lima-" + name.replace(".", "-").replace("_", "-")


def valid_name(name):
    """Error text for an invalid instance name, or None."""
    if not NAME_RE.match(name) or len(name) > 76:
        return "instance name %r is not a valid identifier" % name
    if name.endswith(".yaml") or name.endswith(".yml"):
        return "instance name must not end with .yaml/.yml suffix"
    return None


def host_user():
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return os.environ.get("USER", "lima")


def default_user(sim):
    name = sim.get("user")
    if not name:
        name = host_user()
        if name == "root" or name == "admin" or not LINUX_USER_RE.match(name):
            name = "lima"
    uid = sim.get("uid")
    if uid is None:
        uid = os.getuid() or 1000
    return name, int(uid)


def host_timezone():
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    except OSError:
        pass
    return "UTC"


def host_cpus():
    return os.cpu_count() or 1


def host_memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 << 30


# --------------------------------------------------------------------------------------------
# Instance files


def read_text(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        return default


def pid_alive(pid, marker=None):
    if pid <= 0:
        return False
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        state = stat[stat.rfind(b")") + 2:][:1]
        if state in (b"Z", b"X"):
            return False
        if marker is not None:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if marker not in f.read():
                    return False
        return True
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False


def read_pid(path, marker=None):
    raw = read_text(path)
    if raw is None:
        return 0
    try:
        pid = int(raw.strip())
    except ValueError:
        return 0
    return pid if pid_alive(pid, marker) else 0


HA_MARKER = b"hostagent"
DRIVER_MARKERS = (b"bwrap", b"limasim-driver")


def driver_pid(inst_dir, vm_type="qemu"):
    raw = read_text(os.path.join(inst_dir, "%s.pid" % vm_type))
    if raw is None:
        return 0
    try:
        pid = int(raw.strip())
    except ValueError:
        return 0
    for m in DRIVER_MARKERS:
        if pid_alive(pid, m):
            return pid
    return 0


def ssh_port_from_config(inst_dir):
    raw = read_text(os.path.join(inst_dir, "ssh.config"))
    if not raw:
        return 0
    m = re.search(r"^\s*Port\s+(\d+)", raw, re.M)
    return int(m.group(1)) if m else 0


# --------------------------------------------------------------------------------------------
# Loading (with a JSON cache so that `list` does not need to import PyYAML)


def load_config(sim, name):
    """Parse <inst>/lima.yaml. Returns (dict, None) or (None, error string).
    Raises FileNotFoundError when the file does not exist."""
    path = os.path.join(sim.inst_dir(name), "lima.yaml")
    st = os.stat(path)
    key = [st.st_mtime_ns, st.st_size, st.st_ino]
    cache = os.path.join(sim.sim_dir, "cache", name + ".json")
    try:
        with open(cache) as f:
            c = json.load(f)
        if c.get("key") == key:
            return c.get("config"), c.get("error")
    except (FileNotFoundError, ValueError, NotADirectoryError):
        pass
    from .templates import TemplateError, load_yaml
    text = read_text(path, "")
    try:
        y, err = load_yaml(text, path), None
    except TemplateError as e:
        y, err = None, str(e)
    _write_parse_cache(cache, key, y, err)
    return y, err


def _write_parse_cache(cache, key, y, err):
    """Remember a parsed YAML file (or its error) for the file state `key`; best effort."""
    try:
        os.makedirs(os.path.dirname(cache), exist_ok=True)
        tmp = cache + ".%d.tmp" % os.getpid()
        with open(tmp, "w") as f:
            json.dump({"key": key, "config": y, "error": err}, f, default=str)
        os.replace(tmp, cache)
    except OSError:
        pass


def _load_config_file(sim, fname):
    """Parse `$LIMA_HOME/_config/<fname>` (cached like lima.yaml). {} when it does not exist;
    raises ValidationError for a broken file (Lima refuses to load any instance then)."""
    path = os.path.join(sim.lima_home, "_config", fname)
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    key = [st.st_mtime_ns, st.st_size, st.st_ino]
    cache = os.path.join(sim.sim_dir, "cache", "_config-" + fname + ".json")
    try:
        with open(cache) as f:
            c = json.load(f)
        if c.get("key") == key:
            if c.get("error"):
                raise ValidationError(c["error"])
            return c.get("config") or {}
    except (FileNotFoundError, ValueError, NotADirectoryError):
        pass
    from .templates import TemplateError, load_yaml
    kind = "default" if fname == "default.yaml" else "override"
    try:
        y, err = load_yaml(read_text(path, ""), "%s file %s" % (kind, path)), None
    except TemplateError as e:
        y, err = None, str(e)
    _write_parse_cache(cache, key, y, err)
    if err:
        raise ValidationError(err)
    return y


def config_layers(sim):
    """(d, o): `_config/default.yaml` and `_config/override.yaml`, read at every load
    (upstream/pkg/limayaml/load.go:45-72)."""
    return _load_config_file(sim, "default.yaml"), _load_config_file(sim, "override.yaml")


# Lists that FillDefault concatenates o, y, d (upstream/pkg/limayaml/defaults.go:131-144):
# the override's entries come first, so its portForwards win by first match (defaults.go:603).
_LISTS_OYD = ("images", "additionalDisks", "provision", "probes", "portForwards", "copyToHost",
              "mountTypesUnsupported")
# Maps merged key by key: d, then y, then o (defaults.go:441-446, 823-839).
_MAPS = ("env", "param", "vmOpts")


def _pick(key, y, d, o):
    """Scalar rule: y fills from d when unset, o overrides (e.g. defaults.go:391-399)."""
    v = y.get(key)
    if v is None:
        v = d.get(key)
    if o.get(key) is not None:
        v = o[key]
    return v


def _merge_struct(y, d, o):
    """A struct of scalars (ssh, containerd, user, hostResolver, …): field by field."""
    y, d, o = y or {}, d or {}, o or {}
    out = {}
    for k in list(y) + [k for k in d if k not in y] + [k for k in o if k not in y and k not in d]:
        yv, dv, ov = y.get(k), d.get(k), o.get(k)
        if k in ("archives", "images") and any(isinstance(x, list) for x in (yv, dv, ov)):
            out[k] = list(ov or []) + list(yv or []) + list(dv or [])
        elif k in ("files", "certs") and any(isinstance(x, list) for x in (yv, dv, ov)):
            seen = []
            for x in list(dv or []) + list(yv or []) + list(ov or []):  # defaults.go:851-852
                if x not in seen:
                    seen.append(x)
            out[k] = seen
        elif k == "hosts" or any(isinstance(x, dict) for x in (yv, dv, ov)):
            out[k] = _merge_struct(yv if isinstance(yv, dict) else {}, dv if isinstance(dv, dict) else {},
                                   ov if isinstance(ov, dict) else {})
        else:
            out[k] = _pick(k, y, d, o)
    return out


def merge_layers(sim, y, name, inst_dir, layers=None):
    """lima.yaml with default.yaml (d) and override.yaml (o) mixed in the way FillDefault does
    (upstream/pkg/limayaml/defaults.go:145-890). The result is never written back: Lima keeps the
    three files separate and merges them at every load."""
    d, o = layers if layers is not None else config_layers(sim)
    y = dict(y or {})
    if not d and not o:
        return y
    out = {}
    keys = list(y) + [k for k in d if k not in y] + [k for k in o if k not in y and k not in d]
    for k in keys:
        yv, dv, ov = y.get(k), d.get(k), o.get(k)
        if k in _LISTS_OYD:
            v = list(ov or []) + list(yv or []) + list(dv or [])
        elif k == "networks":  # appended d, y, o (defaults.go:644-675)
            v = list(dv or []) + list(yv or []) + list(ov or [])
        elif k == "mounts":
            v = _merge_mounts(list(dv or []) + list(yv or []) + list(ov or []), name, inst_dir)
        elif k == "dns":  # highest priority non-empty list (defaults.go:815-821)
            v = yv if yv else dv
            if ov:
                v = ov
        elif k in _MAPS or any(isinstance(x, dict) for x in (yv, dv, ov)):
            v = _merge_struct(yv if isinstance(yv, dict) else {}, dv if isinstance(dv, dict) else {},
                              ov if isinstance(ov, dict) else {})
        else:
            v = _pick(k, y, d, o)
        if v is not None:
            out[k] = v
    return out


def _merge_mounts(mounts, name, inst_dir):
    """Mounts appended d, y, o and combined by mount point; the later entry's fields win
    (defaults.go:710-781)."""
    out, index = [], {}
    for m in mounts:
        m = dict(m or {})
        loc = os.path.normpath(_expand_host(_render_host_vars(str(m.get("location", "")), name, inst_dir)))
        m["location"] = loc
        mp = m.get("mountPoint") or loc
        if mp in index:
            prev = out[index[mp]]
            for k, v in m.items():
                if k == "location" or v is None:
                    continue
                if isinstance(v, dict) and isinstance(prev.get(k), dict):
                    prev[k] = dict(prev[k], **{a: b for a, b in v.items() if b is not None})
                else:
                    prev[k] = v
        else:
            index[mp] = len(out)
            out.append(m)
    return out


def drop_cache(sim, name):
    try:
        os.unlink(os.path.join(sim.sim_dir, "cache", name + ".json"))
    except OSError:
        pass


# --------------------------------------------------------------------------------------------
# Default filling (LimaYAML field order)


def _expand_host(path):
    if path == "~" or path.startswith("~/"):
        return os.path.expanduser("~") + path[1:]
    return path


def _render_host_vars(s, name, inst_dir):
    home = os.path.expanduser("~")
    repl = {"Home": home, "Dir": inst_dir, "Name": name, "UID": str(os.getuid()),
            "User": host_user(), "GlobalTempDir": "/tmp", "TempDir": os.path.join(inst_dir, "tmp")}
    return re.sub(r"\{\{\s*\.(\w+)\s*\}\}", lambda m: repl.get(m.group(1), m.group(0)), s)


def guest_user_info(sim, y, name, lima_version, merged=False):
    from .simenv import parse_version
    if not merged:
        y = {"user": merge_layers(sim, {"user": (y or {}).get("user")}, name, sim.inst_dir(name)).get("user")}
    u = y.get("user") or {}
    dname, duid = default_user(sim)
    uname = u.get("name") or dname
    if uname == "admin":
        uname = "lima"
    uid = u.get("uid")
    uid = int(uid) if uid is not None else duid
    home = u.get("home")
    if not home:
        home = "/home/{{.User}}.guest" if parse_version(lima_version) >= (2, 1, 0) else "/home/{{.User}}.linux"
    home = home.replace("{{.User}}", uname).replace("{{ .User }}", uname)
    home = re.sub(r"\{\{\s*\.Name\s*\}\}", name, home)
    home = re.sub(r"\{\{\s*\.UID\s*\}\}", str(uid), home)
    shell = u.get("shell") or "/bin/bash"
    comment = u.get("comment") or "Lima"
    pws = u.get("passwordlessSudo")
    return {"name": uname, "comment": comment, "home": home, "shell": shell, "uid": uid,
            "passwordlessSudo": True if pws is None else bool(pws)}


def fill_port_forward(pf, sim):
    pf = dict(pf or {})
    out = {}
    must_zero = pf.get("guestIPMustBeZero")
    # upstream/pkg/limayaml/defaults.go:995-1001: guestIPMustBeZero alone implies 0.0.0.0
    guest_ip = pf.get("guestIP") or ("0.0.0.0" if must_zero else "127.0.0.1")
    if must_zero is None and guest_ip == "0.0.0.0":
        must_zero = True
    if must_zero:
        out["guestIPMustBeZero"] = True
    out["guestIP"] = guest_ip
    gp = pf.get("guestPort") or 0
    if gp:
        out["guestPort"] = gp
    gr = pf.get("guestPortRange")
    if not gr or gr == [0, 0]:
        gr = [gp, gp] if gp else [1, 65535]
    if not pf.get("guestSocket"):
        out["guestPortRange"] = gr
    else:
        out["guestSocket"] = pf["guestSocket"]
    out["hostIP"] = pf.get("hostIP") or "127.0.0.1"
    hp = pf.get("hostPort") or 0
    if hp:
        out["hostPort"] = hp
    hr = pf.get("hostPortRange")
    if not hr or hr == [0, 0]:
        hr = [hp, hp] if hp else list(gr)
    if pf.get("hostSocket"):
        out["hostSocket"] = pf["hostSocket"]
    elif not pf.get("guestSocket"):
        out["hostPortRange"] = hr
    out["proto"] = pf.get("proto") or "any"
    for k in ("reverse", "ignore", "static"):
        if pf.get(k):
            out[k] = True
    return out


def fill_defaults(sim, y, name, inst_dir, lima_version, layers=None):
    """The defaults-filled config that `list --json` shows under `config` and the host agent
    runs: lima.yaml merged with `_config/default.yaml` and `override.yaml` (merge_layers)."""
    y = merge_layers(sim, y, name, inst_dir, layers)
    arch = resolve_arch(sim, y.get("arch"))
    cfg = {}
    if y.get("minimumLimaVersion"):
        cfg["minimumLimaVersion"] = y["minimumLimaVersion"]
    cfg["vmType"] = y.get("vmType") or default_vm_type(sim, arch)
    if y.get("vmOpts"):
        cfg["vmOpts"] = y["vmOpts"]
    cfg["os"] = y.get("os") or "Linux"
    cfg["arch"] = arch
    images = []
    for im in y.get("images") or []:
        im = dict(im) if isinstance(im, dict) else {"location": im}
        im.setdefault("arch", arch)
        images.append(im)
    cfg["images"] = images
    cfg["cpus"] = int(y["cpus"]) if y.get("cpus") is not None else min(4, host_cpus())
    cfg["memory"] = str(y["memory"]) if y.get("memory") is not None else bytes_size(min(4 << 30, host_memory() // 2))
    cfg["disk"] = str(y["disk"]) if y.get("disk") is not None else "100GiB"
    if y.get("additionalDisks"):
        cfg["additionalDisks"] = y["additionalDisks"]
    mount_type = y.get("mountType") or ("virtiofs" if cfg["vmType"] == "vz" else "9p")
    mounts = []
    for m in y.get("mounts") or []:
        m = dict(m or {})
        loc = _expand_host(_render_host_vars(str(m.get("location", "")), name, inst_dir))
        writable = bool(m.get("writable", False))
        fm = {"location": loc, "mountPoint": m.get("mountPoint") or loc, "writable": writable,
              "sshfs": {"cache": True, "followSymlinks": False, "sftpDriver": ""},
              "9p": {"securityModel": "none", "protocolVersion": "9p2000.L", "msize": "128KiB",
                     "cache": "mmap" if writable else "fscache"},
              "virtiofs": {}}
        mounts.append(fm)
    if mounts:
        cfg["mounts"] = mounts
    if y.get("mountTypesUnsupported"):
        cfg["mountTypesUnsupported"] = y["mountTypesUnsupported"]
    cfg["mountType"] = mount_type
    cfg["mountInotify"] = bool(y.get("mountInotify") or False)
    ssh = dict(y.get("ssh") or {})
    cfg["ssh"] = {
        "localPort": int(ssh.get("localPort") or 0),
        "loadDotSSHPubKeys": bool(ssh.get("loadDotSSHPubKeys") or False),
        "forwardAgent": bool(ssh.get("forwardAgent") or False),
        "forwardX11": bool(ssh.get("forwardX11") or False),
        "forwardX11Trusted": bool(ssh.get("forwardX11Trusted") or False),
    }
    cfg["firmware"] = {"legacyBIOS": bool((y.get("firmware") or {}).get("legacyBIOS") or False)}
    cfg["audio"] = {"device": (y.get("audio") or {}).get("device") or ""}
    video = y.get("video") or {}
    cfg["video"] = {"display": video.get("display") or "none",
                    "vnc": {"display": (video.get("vnc") or {}).get("display") or "127.0.0.1:0,to=9"}}
    prov = []
    for p in y.get("provision") or []:
        p = dict(p or {})
        p.setdefault("mode", "system")
        prov.append(p)
    if prov:
        cfg["provision"] = prov
    cfg["upgradePackages"] = bool(y.get("upgradePackages") or False)
    ctd = y.get("containerd") or {}
    user_default = arch in ("x86_64", "aarch64")
    cfg["containerd"] = {"system": bool(ctd.get("system") or False),
                         "user": bool(ctd["user"]) if ctd.get("user") is not None else user_default}
    cfg["guestInstallPrefix"] = y.get("guestInstallPrefix") or "/usr/local"
    if y.get("probes"):
        cfg["probes"] = y["probes"]
    pfs = [fill_port_forward(pf, sim) for pf in (y.get("portForwards") or [])]
    if pfs:
        cfg["portForwards"] = pfs
    if y.get("copyToHost"):
        cfg["copyToHost"] = y["copyToHost"]
    if y.get("message"):
        cfg["message"] = y["message"]
    nets = []
    for i, n in enumerate(y.get("networks") or []):
        n = dict(n or {})
        n.setdefault("interface", "lima%d" % i)
        n.setdefault("metric", 100)
        nets.append(n)
    if nets:
        cfg["networks"] = nets
    if y.get("env"):
        cfg["env"] = y["env"]
    if y.get("param"):
        cfg["param"] = y["param"]
    if y.get("dns"):
        cfg["dns"] = y["dns"]
    hr = y.get("hostResolver") or {}
    cfg["hostResolver"] = {"enabled": hr.get("enabled") if hr.get("enabled") is not None else not y.get("dns"),
                           "ipv6": bool(hr.get("ipv6") or False), "hosts": hr.get("hosts") or {}}
    cfg["propagateProxyEnv"] = True if y.get("propagateProxyEnv") is None else bool(y["propagateProxyEnv"])
    cfg["caCerts"] = {"removeDefaults": bool((y.get("caCerts") or {}).get("removeDefaults") or False)}
    cfg["plain"] = bool(y.get("plain") or False)
    cfg["timezone"] = y.get("timezone") or host_timezone()
    cfg["nestedVirtualization"] = bool(y.get("nestedVirtualization") or False)
    u = guest_user_info(sim, y, name, lima_version, merged=True)
    user = {"name": u["name"], "comment": u["comment"], "home": u["home"], "shell": u["shell"], "uid": u["uid"]}
    if sim.at_least("2.2.0"):
        user["passwordlessSudo"] = u["passwordlessSudo"]
    cfg["user"] = user
    return cfg


def delete_empty_objects(v):
    """yq `del(.. | select(tag == "!!map" and length == 0))`, repeated until stable."""
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            x = delete_empty_objects(x)
            if isinstance(x, dict) and not x:
                continue
            out[k] = x
        return out
    if isinstance(v, list):
        return [delete_empty_objects(x) for x in v if not (isinstance(x, dict) and not delete_empty_objects(x))]
    return v


# --------------------------------------------------------------------------------------------
# Validation


def validate(sim, y, name, for_edit_of=None):
    """Return (errors, warnings)."""
    from .simenv import parse_version
    errs, warns = [], []
    unknown = [k for k in y if k not in KNOWN_KEYS]
    if unknown:
        warns.append("Non-strict YAML detected; please check for typos")
    # Lima validates the loaded config, i.e. with default.yaml/override.yaml mixed in
    # (upstream/pkg/limayaml/load.go:40-75 before Validate).
    try:
        y = merge_layers(sim, y, name, sim.inst_dir(name))
    except ValidationError as e:
        return [str(e)], warns
    mlv = y.get("minimumLimaVersion")
    if mlv:
        if not re.match(r"^v?\d+\.\d+\.\d+", str(mlv)):
            errs.append("field `minimumLimaVersion` must be a semvar value, got %r" % str(mlv))
        elif parse_version(str(mlv)) > sim.vtuple:
            errs.append("template requires Lima version %s; this is only %s"
                        % (json.dumps(str(mlv)), json.dumps(sim.version)))
    arch = y.get("arch")
    if arch is not None and arch != "default" and arch not in ARCHES:
        errs.append("field `arch` must be one of %s; got %r" % (", ".join(ARCHES), arch))
    osv = y.get("os")
    if osv is not None and osv not in ("Linux", "Darwin", "FreeBSD", "Windows"):
        errs.append("field `os` must be \"Linux\"; got %r" % osv)
    images = y.get("images")
    if not images:
        errs.append("field `images` must be set")
    else:
        for i, im in enumerate(images):
            loc = im.get("location") if isinstance(im, dict) else im
            if not loc:
                errs.append("field `images[%d].location` must be set" % i)
            dg = im.get("digest") if isinstance(im, dict) else None
            if dg and not re.match(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$", str(dg)):
                errs.append("field `images[%d].digest` is invalid: %r" % (i, dg))
    cpus = y.get("cpus")
    if cpus is not None:
        if isinstance(cpus, bool) or not isinstance(cpus, int):
            errs.append("field `cpus` must be an integer, got %r" % (cpus,))
        elif cpus < 1:
            errs.append("field `cpus` must be > 0, got %d" % cpus)
    for key in ("memory", "disk"):
        v = y.get(key)
        if v is not None:
            try:
                if ram_in_bytes(v) <= 0:
                    errs.append("field `%s` must be > 0, got %r" % (key, v))
            except ValueError as e:
                errs.append("field `%s` has an invalid value: %s" % (key, e))
    for i, m in enumerate(y.get("mounts") or []):
        if not isinstance(m, dict) or not m.get("location"):
            errs.append("field `mounts[%d].location` must be set" % i)
            continue
        loc = _expand_host(str(m["location"]))
        if loc.startswith("~"):
            errs.append("field `mounts[%d].location` must not start with \"~\" followed by a user name" % i)
        mp = m.get("mountPoint")
        if mp and str(mp).startswith("~"):
            errs.append("field `mounts[%d].mountPoint` must not start with \"~\"" % i)
    errs += validate_port_forwards(y.get("portForwards") or [])
    known_nets = set(DEFAULT_NETWORKS) | _configured_networks(sim)
    for i, n in enumerate(y.get("networks") or []):
        if not isinstance(n, dict):
            errs.append("field `networks[%d]` must be a map" % i)
            continue
        if n.get("lima") and n["lima"] not in known_nets:
            errs.append("field `networks[%d].lima` references network %r which is not defined in %r"
                        % (i, n["lima"], os.path.join(sim.lima_home, "_config", "networks.yaml")))
        if sum(1 for k in ("lima", "socket", "vzNAT") if n.get(k)) > 1:
            errs.append("field `networks[%d]`: lima, socket and vzNAT are mutually exclusive" % i)
    for i, p in enumerate(y.get("provision") or []):
        mode = (p or {}).get("mode") or "system"
        if mode not in PROVISION_MODES:
            errs.append("field `provision[%d].mode` must one of %s" % (i, ", ".join(
                '"%s"' % m for m in PROVISION_MODES)))
        if mode in ("system", "user", "boot", "dependency") and not (p.get("script") or p.get("file")):
            errs.append("field `provision[%d].script` must not be empty" % i)
        if mode == "data":
            if not str(p.get("path", "")).startswith("/"):
                errs.append("field `provision[%d].path` must be an absolute path" % i)
            if p.get("content") is None:
                errs.append("field `provision[%d].content` must be set" % i)
    for i, pr in enumerate(y.get("probes") or []):
        if not str((pr or {}).get("script", "")).startswith("#!"):
            errs.append("field `probe[%d].script` must start with a '#!' line" % i)
    params = y.get("param") or {}
    if params:
        used_text = json.dumps({k: y.get(k) for k in ("provision", "probes", "copyToHost", "portForwards",
                                                       "mounts")})
        for k, v in params.items():
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", str(k)):
                errs.append("param %s name does not match regex" % json.dumps(str(k)))
            elif not str(k).startswith("internal_") and not re.search(
                    r"\.Param\.%s\b|PARAM_%s\b" % (re.escape(k), re.escape(k)), used_text):
                # (internal_* params are consumed by Lima's own boot scripts)
                errs.append("param %s is not used in any provision, probe, copyToHost, or portForward" % json.dumps(str(k)))
    u = y.get("user") or {}
    if u.get("name") and not LINUX_USER_RE.match(str(u["name"])):
        errs.append("field `user.name` must be a valid Linux user name, got %r" % u["name"])
    if u.get("shell") and not str(u["shell"]).startswith("/"):
        errs.append("field `user.shell` must be an absolute path, got %r" % u["shell"])
    if u.get("home") and str(u["home"]).startswith("~"):
        errs.append("field `user.home` must not start with \"~\"")
    if y.get("dns") and (y.get("hostResolver") or {}).get("enabled", True) is not False:
        errs.append("field `dns` must be empty when field `HostResolver.Enabled` is true")
    return errs, warns


def validate_port(field, port):
    """upstream/pkg/limayaml/validate.go:651-662 (validatePort)."""
    if port < 0:
        return "field `%s` must be > 0" % field
    if port == 0:
        return "field `%s` must be set" % field
    if port == 22:
        return "field `%s` must not be 22" % field
    if port > 65535:
        return "field `%s` must be < 65536" % field
    return None


def _ip_equal(a, b):
    import ipaddress
    try:
        return ipaddress.ip_address(str(a)) == ipaddress.ip_address(str(b))
    except ValueError:
        return False


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def port_rule_filled(pf):
    """A rule as FillPortForwardDefaults leaves it (upstream/pkg/limayaml/defaults.go:991-1041),
    in Lima's terms (validation runs on this, not on the stored text)."""
    r = dict(pf)
    r["proto"] = r.get("proto") or "any"
    must_zero = r.get("guestIPMustBeZero")
    if r.get("guestIP") is None:
        r["guestIP"] = "0.0.0.0" if must_zero else "127.0.0.1"
    if must_zero is None:
        r["guestIPMustBeZero"] = _ip_equal(r["guestIP"], "0.0.0.0")
    r["hostIP"] = r.get("hostIP") or "127.0.0.1"
    gp, hp = r.get("guestPort") or 0, r.get("hostPort") or 0
    gr = list(r.get("guestPortRange") or [0, 0])
    if gr == [0, 0]:
        gr = [1, 65535] if gp == 0 else [gp, gp]
    r["guestPortRange"] = gr
    hr = list(r.get("hostPortRange") or [0, 0])
    if not r.get("hostSocket") and hr == [0, 0]:
        hr = list(gr) if hp == 0 else [hp, hp]
    r["hostPortRange"] = hr
    return r


def validate_port_forwards(rules):
    """The portForwards part of limayaml.Validate (upstream/pkg/limayaml/validate.go:307-389),
    applied to the filled rules; the messages are Lima's."""
    errs = []
    for i, pf in enumerate(rules):
        field = "portForwards[%d]" % i
        if not isinstance(pf, dict):
            errs.append("field `%s` must be a map" % field)  # a YAML unmarshal error in Lima
            continue
        shape_ok = True
        for fld in ("guestPort", "hostPort"):
            v = pf.get(fld)
            if v is not None and not _is_int(v):
                errs.append("field `%s.%s` must be an integer, got %r" % (field, fld, v))
                shape_ok = False
        for fld in ("guestPortRange", "hostPortRange"):
            v = pf.get(fld)
            if v is not None and not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v)):
                errs.append("field `%s.%s` must be a list of two integers, got %r" % (field, fld, v))
                shape_ok = False
        if not shape_ok:
            continue
        r = port_rule_filled(pf)
        gr, hr = r["guestPortRange"], r["hostPortRange"]
        if r.get("guestIPMustBeZero") and not _ip_equal(r["guestIP"], "0.0.0.0"):
            errs.append("field `%s.guestIPMustBeZero` can only be true when field `%s.guestIP` is 0.0.0.0"
                        % (field, field))
        if r.get("guestPort"):
            if r.get("guestSocket"):
                errs.append("field `%s.guestPort` must be 0 when field `%s.guestSocket` is set" % (field, field))
            if r["guestPort"] != gr[0]:
                errs.append("field `%s.guestPort` must match field `%s.guestPortRange[0]`" % (field, field))
            e = validate_port(field + ".guestPort", r["guestPort"])
            if e:
                errs.append(e)
        if r.get("hostPort"):
            if r.get("hostSocket"):
                errs.append("field `%s.hostPort` must be 0 when field `%s.hostSocket` is set" % (field, field))
            if r["hostPort"] != hr[0]:
                errs.append("field `%s.hostPort` must match field `%s.hostPortRange[0]`" % (field, field))
            e = validate_port(field + ".hostPort", r["hostPort"])
            if e:
                errs.append(e)
        for j in range(2):
            e = validate_port("%s.guestPortRange[%d]" % (field, j), gr[j])
            if e:
                errs.append(e)
            if not r.get("hostSocket"):
                e = validate_port("%s.hostPortRange[%d]" % (field, j), hr[j])
                if e:
                    errs.append(e)
        if gr[0] > gr[1]:
            errs.append("field `%s.guestPortRange[1]` must be greater than or equal to field `%s.guestPortRange[0]`"
                        % (field, field))
        if hr[0] > hr[1]:
            errs.append("field `%s.hostPortRange[1]` must be greater than or equal to field `%s.hostPortRange[0]`"
                        % (field, field))
        gsock, hsock = r.get("guestSocket") or "", r.get("hostSocket") or ""
        if gsock:
            if not gsock.startswith("/"):
                errs.append("field `%s.guestSocket` must be an absolute path, but is `%s`" % (field, gsock))
            if not hsock and hr[1] - hr[0] > 0:
                errs.append("field `%s.guestSocket` can only be mapped to a single port or socket. not a range"
                            % field)
        if hsock:
            # (a relative hostSocket is made absolute by FillDefault, so Lima's "must be an absolute
            # path" check for it is unreachable: validate.go:361-364)
            if not gsock and gr[1] - gr[0] > 0:
                errs.append("field `%s.hostSocket` can only be mapped from a single port or socket. not a range"
                            % field)
        elif gr[1] - gr[0] != hr[1] - hr[0]:
            errs.append("field `%s.hostPortRange` must specify the same number of ports as field `%s.guestPortRange`"
                        % (field, field))
        if len(hsock) >= UNIX_PATH_MAX:
            errs.append("field `%s.hostSocket` must be less than UNIX_PATH_MAX=%d characters, but is %d"
                        % (field, UNIX_PATH_MAX, len(hsock)))
        if r["proto"] not in ("tcp", "udp", "any"):
            errs.append("field `%s.proto` must be `tcp`, `udp`, or `any`" % field)
        if r.get("reverse") and not gsock:
            errs.append("field `%s.reverse` must be false" % field)
        if r.get("reverse") and not hsock:
            errs.append("field `%s.reverse` must be false" % field)
    return errs


def _configured_networks(sim):
    text = read_text(os.path.join(sim.lima_home, "_config", "networks.yaml"))
    if not text:
        return set()
    return set(re.findall(r"^  ([A-Za-z0-9_.-]+):\s*$", text, re.M))


# --------------------------------------------------------------------------------------------
# Inspect


class Instance:
    def __init__(self, sim, name):
        self.sim = sim
        self.name = name
        self.dir = sim.inst_dir(name)
        self.errors = []
        self.config = None
        self.raw = None
        self.status = ""
        self.ha_pid = 0
        self.driver_pid = 0

    @property
    def exists(self):
        return os.path.isfile(os.path.join(self.dir, "lima.yaml")) or os.path.isdir(self.dir)

    @property
    def lima_version(self):
        return (read_text(os.path.join(self.dir, "lima-version"), "") or "").strip()

    @property
    def protected(self):
        return os.path.exists(os.path.join(self.dir, "protected"))

    def user(self):
        return guest_user_info(self.sim, self.raw or {}, self.name, self.lima_version or self.sim.info_version)


def inspect(sim, name):
    """Like Lima's store.Inspect. Raises FileNotFoundError for unknown instances."""
    inst = Instance(sim, name)
    if not os.path.isdir(inst.dir):
        raise FileNotFoundError(os.path.join(inst.dir, "lima.yaml"))
    try:
        y, err = load_config(sim, name)
    except FileNotFoundError:
        y, err = None, "open %s: no such file or directory" % os.path.join(inst.dir, "lima.yaml")
        inst.errors.append("instance %s directory %s exists but its \"lima.yaml\" could not be read"
                           % (json.dumps(name), json.dumps(inst.dir)))
        inst.status = "Broken"
        inst.missing_yaml = True
        return inst
    inst.missing_yaml = False
    if err:  # an unreadable config leaves the status unknown (upstream/pkg/store/instance.go:51-57)
        inst.errors.append(err)
        return inst
    try:
        merged = merge_layers(sim, y, name, inst.dir)
    except ValidationError as e:  # a broken _config/default.yaml or override.yaml: same
        inst.errors.append(str(e))
        return inst
    inst.raw = y
    vt = merged.get("vmType") or default_vm_type(sim, resolve_arch(sim, merged.get("arch")))
    inst.vm_type = vt
    inst.ha_pid = read_pid(os.path.join(inst.dir, "ha.pid"), HA_MARKER)
    inst.driver_pid = driver_pid(inst.dir, vt)
    if inst.ha_pid and inst.driver_pid:
        inst.status = "Running"
    elif not inst.ha_pid and not inst.driver_pid:
        inst.status = "Stopped"
    elif inst.ha_pid:
        inst.status = "Broken"
        inst.errors.append("host agent is running but driver is not")
    else:
        inst.status = "Broken"
        inst.errors.append("%s driver is running but host agent is not" % vt)  # store/instance.go:194
    return inst


def list_json(sim, inst):
    """One instance as the ordered dict `list --json` prints (before empty-object deletion)."""
    d = {"name": inst.name, "hostname": hostname_for(inst.name), "status": inst.status, "dir": inst.dir}
    if inst.raw is None:
        d.update({"vmType": "", "arch": ""})
        if inst.errors:
            d["errors"] = inst.errors
        d["sshConfigFile"] = os.path.join(inst.dir, "ssh.config")
        d["protected"] = inst.protected
        d["limaVersion"] = inst.lima_version
        return d
    cfg = fill_defaults(sim, inst.raw, inst.name, inst.dir, inst.lima_version or sim.info_version)
    d["vmType"] = cfg["vmType"]
    d["arch"] = cfg["arch"]
    if cfg.get("cpus"):
        d["cpus"] = cfg["cpus"]
    for k in ("memory", "disk"):
        try:
            v = ram_in_bytes(cfg[k])
        except ValueError:
            v = 0
        if v:
            d[k] = v
    msg = cfg.get("message")
    if msg:
        d["message"] = render_message(msg, inst, cfg)
    if cfg.get("additionalDisks"):
        d["additionalDisks"] = cfg["additionalDisks"]
    if cfg.get("networks"):
        d["network"] = cfg["networks"]
    port = ssh_port_from_config(inst.dir)
    if port:
        d["sshLocalPort"] = port
    d["sshConfigFile"] = os.path.join(inst.dir, "ssh.config")
    if inst.status == "Running" or inst.ha_pid:
        if inst.ha_pid:
            d["hostAgentPID"] = inst.ha_pid
    if inst.driver_pid:
        d["driverPID"] = inst.driver_pid
    if inst.errors:
        d["errors"] = inst.errors
    d["config"] = cfg
    d["sshAddress"] = "127.0.0.1"
    d["protected"] = inst.protected
    d["limaVersion"] = inst.lima_version
    if cfg.get("param"):
        d["param"] = cfg["param"]
    d["HostOS"] = host_os(sim)
    d["HostArch"] = host_arch(sim)
    d["LimaHome"] = sim.lima_home
    d["IdentityFile"] = os.path.join(sim.lima_home, "_config", "user")
    return d


def render_message(msg, inst, cfg):
    u = cfg["user"]
    repl = {"Name": inst.name, "Dir": inst.dir, "Instance.Name": inst.name, "Instance.Dir": inst.dir,
            "User": u["name"], "Home": u["home"], "Hostname": hostname_for(inst.name)}
    return re.sub(r"\{\{\s*\.([\w.]+)\s*\}\}", lambda m: repl.get(m.group(1), m.group(0)), str(msg))
