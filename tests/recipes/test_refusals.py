"""Recipes refuse bad settings before they change anything. These run on the host: the program
is libdvm's real guest program (recipetools.guest_program) with `sudo`, `dnf5`, `rpm`, `curl`
and the rest replaced by stand-ins that only record, so a refusal must leave their log empty.

The program keeps only root-owned directories on PATH (safe_guest_environment), which would drop
the stand-ins' directory, so one line is added right after that block to put it first; the
rest is the program byte for byte."""

from __future__ import annotations

import getpass
import subprocess

import pytest

from recipetools import AI_RECIPES, guest_program, marker

# Records each call a recipe makes and fails it. The guest program's own sudo calls for the
# incremental sync's records (argv[0] "dvm-fingerprints" of the root bash) are not the recipe's:
# they fail unrecorded (the program then runs every recipe).
RECORDER = """#!/bin/sh
case "$*" in *dvm-fingerprints*) exit 1 ;; esac
printf '%s %s\\n' "$(basename "$0")" "$*" >>"$DVM_TEST_LOG"
exit 1
"""


class Run:
    def __init__(self, returncode: int, output: str):
        self.returncode = returncode
        self.output = output

    def has(self, what: str, name: str) -> bool:
        return any(line.endswith(marker(what, name)) for line in self.output.splitlines())


@pytest.fixture
def sandboxed(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sudo", "dnf5", "rpm", "curl", "systemctl", "useradd", "setfacl", "npm", "uv"):
        p = bindir / tool
        p.write_text(RECORDER)
        p.chmod(0o755)
    # The program sets the host name when it differs from the VM's; this one agrees.
    (bindir / "hostname").write_text("#!/bin/sh\necho app\n")
    (bindir / "hostname").chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")

    def run(recipes: list[str], env: dict[str, object] | None = None,
            secrets: dict[str, str] | None = None) -> Run:
        if secrets:
            raise AssertionError("not for secrets")
        prog = guest_program(recipes, name="app", user=getpass.getuser(), code_dir=str(tmp_path / "code"), env=env)
        anchor = b"\n__dvm_nonce="  # the first line after safe_guest_environment
        assert prog.count(anchor) == 1, "the guest program changed: find where its PATH is set"
        prog = prog.replace(anchor, f"\nPATH={bindir}:$PATH".encode() + anchor)
        r = subprocess.run(
            ["/bin/bash", "-p", "-s"], input=prog, capture_output=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DVM_TEST_LOG": str(log), "LANG": "C.UTF-8"})
        # Recipe errors reach stdout too (the program runs `exec 2>&1` before the recipes).
        return Run(r.returncode, (r.stdout + r.stderr).decode(errors="replace"))

    run.log = log
    return run


@pytest.mark.parametrize("name", AI_RECIPES)
def test_ai_recipe_without_agent_user_fails_clearly(sandboxed, name):
    r = sandboxed([name])
    assert r.returncode != 0
    assert f"dvm recipe: error: {name}: needs the agent-user recipe earlier in the list" in r.output
    assert f'recipes = ["agent-user", "{name}"]' in r.output
    assert sandboxed.log.read_text() == ""
    assert r.has("failed 1 recipe", name) and not r.has("recipe-done", name)


@pytest.mark.parametrize("repo,allow,message", [
    ("", None, "CHEZMOI_REPO is required"),
    ("git@github.com:me/dotfiles.git", None, "ssh URL"),
    ("ssh://git@github.com/me/dotfiles.git", None, "ssh URL"),
    ("ssh://git@github.com/me/dotfiles.git", False, "ssh URL"),
    ("http://github.com/me/dotfiles.git", True, "must be an https:// URL"),
    ("file:///home/me/dotfiles", True, "must be an https:// URL"),
    ("https://user:token@github.com/me/dotfiles.git", None, "must not contain credentials"),
    ("https://github.com/me/dot files.git", None, "characters that are not allowed"),
    ("me", None, "must be an https:// URL"),
    ("git@github.com:me/dotfiles.git", "maybe", "CHEZMOI_ALLOW_SSH must be a boolean"),
    ("git@github.com:me/$(id).git", True, "not a valid ssh URL"),
])
def test_chezmoi_refuses_non_https_by_default(sandboxed, repo, allow, message):
    env: dict[str, object] = {"CHEZMOI_REPO": repo}
    if allow is not None:
        env["CHEZMOI_ALLOW_SSH"] = allow
    r = sandboxed(["chezmoi"], env)
    assert r.returncode != 0
    assert message in r.output
    assert sandboxed.log.read_text() == ""


@pytest.mark.parametrize("env,message", [
    ({"LLAMA_PORT": "70000"}, "LLAMA_PORT must be a port number"),
    ({"LLAMA_SERVICE": "../evil.service"}, "not a valid systemd service name"),
    ({"LLAMA_HOST": "0.0.0.0;rm"}, "LLAMA_HOST is not a valid address"),
    ({"LLAMA_MODELS_DIR": "/srv/my models"}, "LLAMA_MODELS_DIR may only use"),
    ({"LLAMA_MODELS": "m=http://example.com/m.gguf", "LLAMA_MODELS_SHA256": "m=" + "a" * 64}, "https"),
    ({"LLAMA_MODELS": "m=https://example.com/m.gguf"}, "model m has no sha256"),
    ({"LLAMA_MODELS": "m=https://example.com/m.gguf", "LLAMA_MODELS_SHA256": "m=abc"}, "sha256 digest"),
    ({"LLAMA_MODELS": "m=https://example.com/m.gguf", "LLAMA_MODELS_SHA256": "m=" + "a" * 64,
      "LLAMA_DEFAULT_MODEL": "other"}, "LLAMA_DEFAULT_MODEL 'other' is not an alias"),
    ({"LLAMA_MODELS": "https://example.com/m.gguf"}, "entries are alias=https://"),
    ({"LLAMA_REFRESH": "sometimes"}, "LLAMA_REFRESH must be a boolean"),
])
def test_llama_refuses_bad_settings(sandboxed, env, message):
    r = sandboxed(["llama"], env)
    assert r.returncode != 0
    assert message in r.output, r.output
    assert sandboxed.log.read_text() == ""


@pytest.mark.parametrize("name,env,message", [
    ("cloudflared", {"CLOUDFLARED_SERVICE": "x"}, "ending in .service"),
    ("tailscale", {"TAILSCALE_HOSTNAME": "bad_name!"}, "TAILSCALE_HOSTNAME is not a valid host name"),
    ("codex", {"CODEX_YOLO": "perhaps"}, "needs the agent-user recipe"),
    ("node", {"COREPACK_VERSION": "1.2"}, None),
])
def test_service_recipes_refuse_bad_settings(sandboxed, name, env, message):
    r = sandboxed([name], env)
    assert r.returncode != 0
    if message:
        assert message in r.output, r.output
        assert sandboxed.log.read_text() == ""


def test_strict_mode_stops_after_a_failing_recipe(sandboxed):
    r = sandboxed(["chezmoi", "git"], {"CHEZMOI_REPO": ""})
    assert r.returncode != 0
    assert r.has("recipe-start", "chezmoi") and not r.has("recipe-start", "git")
