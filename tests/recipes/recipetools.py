"""Shared helpers for the recipe tests: where the recipes are, how to read them, and how to
render the real guest program that libdvm streams into the guest."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import tempfile
from pathlib import Path

GUEST_STUBS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guest_stubs")


def install_guest_stubs(sim, instance: str) -> None:
    """The network-tool stand-ins of tests/recipes/guest_stubs (npm, tailscale, ...) into the
    simulated guest INSTANCE's /usr/local/bin, as root; they record their calls in
    /run/dvm-test-calls. `sim` is a limasim_fixture.LimaSim."""
    r = sim.guest_run(instance, "install -d -m 1777 /run/dvm-test-calls", user="root")
    assert r.returncode == 0, r.stderr
    for name in sorted(os.listdir(GUEST_STUBS)):
        if name == "README.md":
            continue
        with open(os.path.join(GUEST_STUBS, name), "rb") as f:
            data = f.read()
        target = "/usr/local/lib/dvm-test-stubs/_record.sh" if name == "_record.sh" else f"/usr/local/bin/{name}"
        r = sim.guest_run(instance, f"install -D -m 0755 /dev/stdin {target}", user="root", stdin=data)
        assert r.returncode == 0, r.stderr


def set_network_ms(sim, instance: str, ms: int) -> None:
    """Make every modeled network request take MS milliseconds, as a real round trip would: the
    simulator's (dnf5 loading repositories, curl/wget downloads; its `network_ms`) and the
    stubs' in INSTANCE (npm view, npm install). 0 makes them answer at once."""
    sim.configure(network_ms=int(ms) or None)
    r = sim.guest_run(instance, "install -m 0644 /dev/stdin /usr/local/lib/dvm-test-stubs/network-ms",
                      user="root", stdin=f"{int(ms)}\n".encode())
    assert r.returncode == 0, r.stderr


REPO = Path(__file__).resolve().parents[2]
RECIPES_DIR = REPO / "libdvm" / "recipes"
HELPERS = RECIPES_DIR / "_helpers.sh"

BUNDLED = [
    "baseline", "zsh", "git", "helix", "lazygit", "starship", "fzf", "bat", "git-delta",
    "just", "tmux", "yazi", "zellij", "node", "python", "docker", "agent-user", "codex",
    "claude", "opencode", "mistral", "chezmoi", "cloudflared", "tailscale", "llama",
]
AI_RECIPES = ["codex", "claude", "opencode", "mistral"]
PINNED = {  # recipe -> binaries it installs from a pinned download
    "lazygit": ["lazygit"],
    "starship": ["starship"],
    "yazi": ["yazi", "ya"],
    "zellij": ["zellij"],
}


def recipe_path(name: str) -> Path:
    return RECIPES_DIR / f"{name}.sh"


def recipe_text(name: str) -> str:
    return recipe_path(name).read_text(encoding="utf-8")


def function_name(name: str) -> str:
    return "dvm_recipe_" + re.sub(r"[^A-Za-z0-9_]", "_", name)


def wrap_recipe(name: str, text: str | None = None) -> str:
    """A recipe as the generator places it: inside a shell function."""
    body = recipe_text(name) if text is None else text
    if not body.endswith("\n"):
        body += "\n"
    return f"{function_name(name)}() {{\n{body}}}\n"


_HEREDOC_START = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")


def strip_heredocs(text: str) -> str:
    """Removes here-document bodies (their text is data, e.g. a script written to a file)."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = _HEREDOC_START.search(line) if not line.lstrip().startswith("#") else None
        if m:
            end = m.group(2)
            i += 1
            while i < len(lines) and lines[i].strip() != end:
                i += 1
        i += 1
    return "\n".join(out) + "\n"


def bare_words(text: str) -> list[str]:
    """The unquoted words of a shell text, comments and here-document bodies left out (a
    tokenizer, not a parser: quoted strings stay single tokens with their quotes)."""
    lexer = shlex.shlex(strip_heredocs(text), posix=False, punctuation_chars=";&|()<>")
    lexer.whitespace_split = False
    words = []
    try:
        for tok in lexer:
            words.append(tok)
    except ValueError:  # an unbalanced quote: tokenizing stops there
        pass
    return words


# The nonce of the programs guest_program() renders: markers read ::dvm-<NONCE>::<what> <step>.
NONCE = "0123456789abcdef0123456789abcdef"


def marker(what: str, step: str = "") -> str:
    """A progress marker line of the real guest program, e.g. marker("recipe-done", "git")."""
    return f"::dvm-{NONCE}::{what}" + (f" {step}" if step else "")


def render_tool() -> str:
    """The test-only executable that writes libdvm's guest program (render_sync_program.cpp);
    ctest passes its path in DVM_RENDER_SYNC_PROGRAM."""
    tool = os.environ.get("DVM_RENDER_SYNC_PROGRAM", "")
    if not tool:
        build = os.environ.get("DVM_BUILD_DIR", str(REPO / "build" / "test"))
        tool = str(Path(build) / "tests" / "dvm_render_sync_program")
    if not os.access(tool, os.X_OK):
        raise AssertionError(f"the guest program renderer is missing ({tool}): build the "
                             "dvm_render_sync_program target or set DVM_RENDER_SYNC_PROGRAM")
    return tool


def guest_program(
    recipes: list[str],
    *,
    name: str,
    user: str,
    code_dir: str,
    agent_user: str = "dvm-agent",
    env: dict[str, object] | None = None,
    secrets: dict[str, str] | None = None,
    texts: dict[str, str] | None = None,
) -> bytes:
    """The real guest program of `dvm sync` (libdvm's detail::build_sync_program, through
    render_sync_program.cpp), secrets framed in, for the recipes named in `recipes` (baseline
    only when named). `texts` supplies recipes that are not bundled, or replaces bundled ones,
    as user recipes (their first line must be `# Description: ...`). [env] values are given as
    the config loader turns them into text (booleans as true/false). Markers use NONCE."""
    spec: dict[str, object] = {
        "name": name, "user": user, "code_dir": code_dir, "agent_user": agent_user,
        "recipes": list(recipes), "nonce": NONCE, "secrets": dict(secrets or {}),
        "env": {k: ("true" if v else "false") if isinstance(v, bool) else str(v)
                for k, v in sorted((env or {}).items())},
    }
    with tempfile.TemporaryDirectory(prefix="dvm-user-recipes-") as user_dir:
        for rname, text in (texts or {}).items():
            (Path(user_dir) / f"{rname}.sh").write_text(text, encoding="utf-8")
        if texts:
            spec["user_recipes_dir"] = user_dir
        r = subprocess.run([render_tool()], input=json.dumps(spec).encode(), capture_output=True)
    if r.returncode != 0:
        raise AssertionError(f"render_sync_program failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout
