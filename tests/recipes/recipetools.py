"""Shared helpers for the recipe tests: where the recipes are, how to read them, and how to
build a guest program shaped like the one libdvm streams into the guest."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

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


def guest_program(
    recipes: list[tuple[str, str]],
    *,
    name: str,
    user: str,
    code_dir: str,
    agent_user: str = "dvm-agent",
    env: dict[str, object] | None = None,
    secrets: dict[str, str] | None = None,
    helpers: str | None = None,
    epilogue: str = "",
) -> str:
    """A minimal program shaped like libdvm's guest program (the contract in the recipes'
    brief): strict mode and a trap that removes the secrets directory, the exported settings,
    the secrets staged under /run/dvm-secrets/<random>/, dvm_secret, _helpers.sh, then each
    recipe wrapped in a function and called in the main shell with DVM_RECIPE set and stdin
    from /dev/null. `recipes` holds (name, text) pairs."""
    q = shlex.quote
    parts = [
        "set -euo pipefail",
        "DVM_SECRETS_DIR=''",
        "dvm__cleanup() { if [ -n \"$DVM_SECRETS_DIR\" ]; then sudo rm -rf -- \"$DVM_SECRETS_DIR\"; fi; }",
        "trap dvm__cleanup EXIT HUP INT TERM",
        f"export DVM_NAME={q(name)} DVM_USER={q(user)} DVM_CODE_DIR={q(code_dir)} "
        f"DVM_AGENT_USER={q(agent_user)}",
    ]
    for key, value in (env or {}).items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        parts.append(f"export DVM_{key}={q(text)}")
    parts.append("dvm_secret() { local v=\"DVM_SECRET_FILE_$1\"; cat -- \"${!v}\"; }")
    if secrets:
        parts.append("sudo install -d -m 0755 /run/dvm-secrets")
        parts.append("DVM_SECRETS_DIR=\"$(sudo mktemp -d /run/dvm-secrets/XXXXXXXXXX)\"")
        parts.append("sudo chown \"$(id -un):\" \"$DVM_SECRETS_DIR\"; chmod 0700 \"$DVM_SECRETS_DIR\"")
        for key, value in secrets.items():
            parts.append(
                f"(umask 077; printf '%s' {q(value)} >\"$DVM_SECRETS_DIR/{key}\")"
            )
            parts.append(f"export DVM_SECRET_FILE_{key}=\"$DVM_SECRETS_DIR/{key}\"")
    parts.append(HELPERS.read_text(encoding="utf-8") if helpers is None else helpers)
    for rname, text in recipes:
        parts.append(wrap_recipe(rname, text))
        parts.append(f"printf '::dvm-recipe-start %s\\n' {q(rname)}")
        parts.append(f"DVM_RECIPE={q(rname)}")
        parts.append(f"{function_name(rname)} </dev/null")
        parts.append(f"printf '::dvm-recipe-done %s\\n' {q(rname)}")
    parts.append("dvm__cleanup; DVM_SECRETS_DIR=''")
    if epilogue:
        parts.append(epilogue)
    return "\n".join(parts) + "\n"
