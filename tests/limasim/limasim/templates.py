"""`base:` embedding: template locators (`template:NAME`, files, URLs) in a lima.yaml."""

import json
import os
import re
import urllib.parse

import yaml

from . import TEMPLATES_DIR


class TemplateError(Exception):
    pass


def search_path(sim):
    env = os.environ.get("LIMA_TEMPLATES_PATH")
    if env:
        return [p for p in env.split(":") if p]
    return [os.path.join(sim.lima_home, "_templates"), TEMPLATES_DIR]


def is_template_locator(loc):
    return loc.startswith("template:")


def template_name(loc):
    name = loc[len("template:"):]
    if name.startswith("//"):
        name = name[2:]
    return name


def download(sim, url):
    """Fetch a URL from the `_sim/downloads` fixtures (there is no network)."""
    idx_path = os.path.join(sim.sim_dir, "downloads.json")
    try:
        with open(idx_path) as f:
            idx = json.load(f)
    except (FileNotFoundError, ValueError):
        idx = {}
    ent = idx.get(url)
    if ent is None:
        host = urllib.parse.urlsplit(url).hostname or url
        raise TemplateError('failed to download %s: Get "%s": dial tcp: lookup %s: no such host' % (url, url, host))
    fname = ent if isinstance(ent, str) else ent.get("file")
    with open(os.path.join(sim.sim_dir, "downloads", fname), "rb") as f:
        return f.read()


def read_locator(sim, loc, cwd=None):
    """Return (bytes, resolved_location) for a template locator."""
    if is_template_locator(loc):
        name = template_name(loc)
        for d in search_path(sim):
            p = os.path.join(d, name + ".yaml")
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    return f.read(), p
        raise TemplateError('template "%s" not found' % name)
    if re.match(r"^https?://", loc):
        return download(sim, loc), loc
    if loc.startswith("file://"):
        loc = loc[len("file://"):]
    path = loc if os.path.isabs(loc) else os.path.join(cwd or os.getcwd(), loc)
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except FileNotFoundError:
        raise TemplateError("open %s: no such file or directory" % path)
    except IsADirectoryError:
        raise TemplateError("read %s: is a directory" % path)


def load_yaml(text, where="lima.yaml"):
    try:
        # the C loader (libyaml) is ~10x faster on the big, comment-heavy upstream templates
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        y = yaml.load(text, Loader=loader) if text.strip() else {}
    except yaml.YAMLError as e:
        raise TemplateError("failed to unmarshal YAML (%s): %s" % (where, " ".join(str(e).split())))
    if y is None:
        y = {}
    if not isinstance(y, dict):
        raise TemplateError("failed to unmarshal YAML (%s): the document is not a map" % where)
    return y


_PREPEND = ("provision", "probes", "base")


def _cmp_ver(a, b):
    from .simenv import parse_version
    return parse_version(str(a)) > parse_version(str(b))


def merge_base(y, b):
    """Lima's embedding rule: scalars from the base fill gaps, lists are appended
    (prepended for provision/probes/base), maps merge recursively."""
    out = dict(y)
    for k, bv in b.items():
        if k == "base":
            continue
        yv = out.get(k)
        if k not in out or yv is None:
            out[k] = bv
        elif k == "minimumLimaVersion" and bv is not None:
            if _cmp_ver(bv, yv):
                out[k] = bv
        elif k == "dns":
            continue  # taken whole from the highest-priority file
        elif isinstance(yv, list) and isinstance(bv, list):
            out[k] = (bv + yv) if k in _PREPEND else (yv + bv)
        elif isinstance(yv, dict) and isinstance(bv, dict):
            out[k] = merge_base(yv, bv)
    return out


def embed(sim, y, cwd=None, depth=0):
    """Resolve and merge every `base:` locator (recursively); returns a new dict without `base`."""
    if depth > 16:
        raise TemplateError("base templates nest too deeply")
    bases = y.get("base")
    if bases is None:
        return y
    if isinstance(bases, (str, dict)):
        bases = [bases]
    out = {k: v for k, v in y.items() if k != "base"}
    for b in bases:
        loc = b.get("url") if isinstance(b, dict) else b
        if not isinstance(loc, str):
            raise TemplateError("field `base` must be a locator string or {url: ...}")
        text, where = read_locator(sim, loc, cwd)
        by = load_yaml(text.decode("utf-8", "replace"), where)
        by = embed(sim, by, os.path.dirname(where) if os.path.isabs(where) else cwd, depth + 1)
        out = merge_base(out, by)
    return out
