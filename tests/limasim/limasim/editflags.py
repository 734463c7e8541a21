"""create/start/edit flags and their translation into yq expressions (Lima's editflags)."""

import json

from .cli import Flag
from .units import go_float


def edit_flag_list():
    return [
        Flag("cpus", kind="int", help="Number of CPUs"),
        Flag("memory", kind="float", help="Memory in GiB"),
        Flag("disk", kind="float", help="Disk size in GiB"),
        Flag("dns", kind="array", help="Specify custom DNS (disable host resolver)"),
        Flag("mount", kind="array", help="Directories to mount, suffix ':w' for writable"),
        Flag("mount-only", kind="array", since="2.0.0", help="Similar to --mount, but overrides the existing mounts"),
        Flag("mount-none", kind="bool", since="1.2.0", help="Remove all mounts"),
        Flag("mount-type", kind="string", help="Mount type (reverse-sshfs, 9p, virtiofs)"),
        Flag("mount-writable", kind="bool", help="Make all mounts writable"),
        Flag("mount-inotify", kind="bool", help="Enable inotify for mounts"),
        Flag("network", kind="array", help="Additional networks, e.g., \"vzNAT\" or \"lima:shared\""),
        Flag("nested-virt", kind="bool", since="2.1.0", help="Enable nested virtualization"),
        Flag("rosetta", kind="bool", help="Enable Rosetta (for vz instances)"),
        Flag("set", kind="array", help="Modify the template inplace, using yq syntax"),
        Flag("param", kind="array", since="2.2.0", help="Set a template parameter (KEY=VALUE)"),
        Flag("ssh-port", kind="int", since="2.0.0", help="SSH port (0 for random)"),
        Flag("video", kind="bool", help="Enable video output"),
        Flag("vm-type", kind="string", help="Virtual machine type (qemu, vz)"),
        Flag("port-forward", kind="array", since="2.0.0", help="Port forwards (host:guest)"),
        Flag("shell", kind="string", since="2.2.0", help="Login shell of the guest user"),
    ]


def create_only_flag_list():
    return [
        Flag("name", kind="string", help="Override the instance name"),
        Flag("list-templates", kind="bool", help="List available templates and exit"),
        Flag("list-drivers", kind="bool", since="2.0.0", help="List available drivers and exit"),
        Flag("arch", kind="string", help="Machine architecture (x86_64, aarch64, riscv64, armv7l, s390x, ppc64le)"),
        Flag("containerd", kind="string", help="containerd mode (user, system, user+system, none)"),
        Flag("plain", kind="bool", help="Plain mode: no mounts, port forwarding, containerd"),
        Flag("image-variant", kind="string", since="2.2.0", help="Image variant"),
    ]


def _mount_obj(spec):
    loc, w = spec, False
    if spec.endswith(":w"):
        loc, w = spec[:-2], True
    return {"location": loc, "writable": w} if w else {"location": loc}


def build_exprs(p, create=True):
    """yq expressions in Lima's fixed internal order (not command-line order)."""
    ex = []
    ch = p.changed
    if "cpus" in ch:
        ex.append(".cpus = %d" % p.get("cpus"))
    if "dns" in ch:
        ex.append(".dns += %s | .hostResolver.enabled = false" % json.dumps(p.get("dns")))
    if "memory" in ch:
        ex.append('.memory = "%sGiB"' % go_float(p.get("memory")))
    if "mount" in ch:
        ex.append(".mounts = %s + .mounts" % json.dumps([_mount_obj(m) for m in p.get("mount")]))
    if "mount-only" in ch:
        ex.append(".mounts = %s" % json.dumps([_mount_obj(m) for m in p.get("mount-only")]))
    if p.get("mount-none"):
        ex.append(".mounts = null")
    if "mount-type" in ch:
        ex.append('.mountType = "%s"' % p.get("mount-type"))
    if "mount-writable" in ch:
        ex.append(".mounts[].writable = %s" % ("true" if p.get("mount-writable") else "false"))
    if "mount-inotify" in ch:
        ex.append(".mountInotify = %s" % ("true" if p.get("mount-inotify") else "false"))
    if "network" in ch:
        nets = []
        for n in p.get("network"):
            if n == "vzNAT":
                nets.append({"vzNAT": True})
            elif n.startswith("lima:"):
                nets.append({"lima": n[5:]})
            else:
                raise ValueError('network name must be "vzNAT" or "lima:*", got %s' % json.dumps(n))
        ex.append(".networks += %s" % json.dumps(nets))
    if "nested-virt" in ch:
        ex.append(".nestedVirtualization = %s" % ("true" if p.get("nested-virt") else "false"))
    if "rosetta" in ch:
        ex.append(".vmOpts.vz.rosetta.enabled = %s" % ("true" if p.get("rosetta") else "false"))
    if "vm-type" in ch:
        ex.append('.vmType = "%s"' % p.get("vm-type"))
    if "video" in ch:
        ex.append('.video.display = "%s"' % ("default" if p.get("video") else "none"))
    for s in p.get("set") or []:
        ex.append(s)
    for kv in p.get("param") or []:
        k, eq, v = kv.partition("=")
        if not eq:
            raise ValueError("param must be KEY=VALUE, got %s" % json.dumps(kv))
        ex.append(".param.%s = %s" % (k, json.dumps(v)))
    if "ssh-port" in ch:
        ex.append(".ssh.localPort = %d" % p.get("ssh-port"))
    if create:
        if "arch" in ch:
            ex.append('.arch = "%s"' % p.get("arch"))
        if "containerd" in ch:
            mode = p.get("containerd")
            system = "system" in mode.split("+")
            user = "user" in mode.split("+")
            ex.append(".containerd.system = %s | .containerd.user = %s"
                      % (str(system).lower(), str(user).lower()))
    if "disk" in ch:
        ex.append('.disk = "%sGiB"' % go_float(p.get("disk")))
    if create and p.get("plain"):
        ex.append(".plain = true")
    if "port-forward" in ch:
        rules = []
        for spec in p.get("port-forward"):
            parts = spec.split(",")
            hp, _, gp = parts[0].partition(":")
            try:
                rule = {"guestPort": int(gp), "hostPort": int(hp)}
            except ValueError:
                raise ValueError("invalid port forward %s: must be HOST:GUEST" % json.dumps(spec))
            for opt in parts[1:]:
                if opt == "static=true":
                    rule["static"] = True
            rules.append(rule)
        ex.append(".portForwards += %s" % json.dumps(rules))
    if "shell" in ch:
        ex.append('.user.shell = "%s"' % p.get("shell"))
    return ex


def apply_exprs(data, exprs):
    from . import yq
    for e in exprs:
        data = yq.evaluate(e, data)
    return data
