"""`limactl info`: a small indented JSON document about the (simulated) installation."""

import json
import os
import sys

from . import ROOT, store

SHELL_ENV_BLOCK = ["BASH*", "DISPLAY", "DYLD_*", "EUID", "FPATH", "GID", "GROUP", "HOME", "HOSTNAME", "LD_*",
                   "LOGNAME", "OLDPWD", "PATH", "PWD", "SHELL", "SHLVL", "SSH_*", "TERM", "TERMINFO", "TMPDIR",
                   "UID", "USER", "XAUTHORITY", "XDG_*", "ZDOTDIR", "ZSH*", "_*"]


def cmd_info(ctx):
    sim = ctx.sim
    if ctx.args:
        ctx.arg_error("accepts 0 arg(s), received %d" % len(ctx.args))
    from .templates import TemplateError, embed, list_templates, load_yaml, read_locator
    try:
        text, where = read_locator(sim, "template:default" if sim.at_least("2.0.0") else "template://default")
        y = embed(sim, load_yaml(text.decode(), where))
        default = store.fill_defaults(sim, y, "default", sim.inst_dir("default"), sim.info_version)
    except TemplateError:
        default = None
    info = {
        "version": sim.info_version,
        "templates": list_templates(sim),
        "defaultTemplate": default,
        "limaHome": sim.lima_home,
        "vmTypes": ["qemu"],
    }
    if sim.at_least("2.0.0"):
        info["vmTypesEx"] = {"qemu": {"location": "internal"}}
    if sim.at_least("1.1.0"):
        info["guestAgents"] = {store.host_arch(): {"location": os.path.join(ROOT, "limactl")}}
    if sim.at_least("2.0.0"):
        info.update({
            "shellEnvBlock": SHELL_ENV_BLOCK,
            "hostOS": "linux",
            "hostArch": store.host_arch(),
            "identityFile": os.path.join(sim.lima_home, "_config", "user"),
            "plugins": [],
            "libexecPaths": [os.path.join(ROOT, "libexec", "lima")],
            "sharePaths": [os.path.join(ROOT, "templates")],
            "simulator": {"name": "limasim", "limactl": os.path.join(ROOT, "limactl")},
        })
    sys.stdout.write(json.dumps(info, indent=4, ensure_ascii=False) + "\n")
    return 0
