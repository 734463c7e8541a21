"""Recipes refuse bad settings before they change anything. These run on the host: the
program is the guest program's shape (recipetools.guest_program) with `sudo`, `dnf5`, `rpm`
and `curl` replaced by stand-ins that only record, so a refusal must leave their log empty."""

from __future__ import annotations

import getpass
import os
import subprocess
from pathlib import Path

import pytest

from recipetools import AI_RECIPES, guest_program, recipe_text

RECORDER = """#!/bin/sh
printf '%s %s\\n' "$(basename "$0")" "$*" >>"$DVM_TEST_LOG"
exit 1
"""


@pytest.fixture
def sandboxed(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sudo", "dnf5", "rpm", "curl", "systemctl", "useradd", "setfacl", "npm", "uv"):
        p = bindir / tool
        p.write_text(RECORDER)
        p.chmod(0o755)
    log = tmp_path / "calls.log"
    log.write_text("")

    def run(recipes: list[str], env: dict[str, object] | None = None,
            secrets: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        prog = guest_program([(n, recipe_text(n)) for n in recipes], name="app", user=getpass.getuser(),
                             code_dir=str(tmp_path / "code"), env=env, secrets=None)
        if secrets:
            raise AssertionError("not for secrets")
        return subprocess.run(
            ["bash", "-s"], input=prog, capture_output=True, text=True,
            env={"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "DVM_TEST_LOG": str(log),
                 "LANG": "C.UTF-8"})

    run.log = log
    return run


@pytest.mark.parametrize("name", AI_RECIPES)
def test_ai_recipe_without_agent_user_fails_clearly(sandboxed, name):
    r = sandboxed([name])
    assert r.returncode != 0
    assert f"dvm recipe: error: {name}: needs the agent-user recipe earlier in the list" in r.stderr
    assert f'recipes = ["agent-user", "{name}"]' in r.stderr
    assert sandboxed.log.read_text() == ""
    assert f"::dvm-recipe-done {name}" not in r.stdout


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
    assert message in r.stderr
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
    assert message in r.stderr, r.stderr
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
        assert message in r.stderr, r.stderr
        assert sandboxed.log.read_text() == ""


def test_strict_mode_stops_after_a_failing_recipe(sandboxed):
    r = sandboxed(["chezmoi", "git"], {"CHEZMOI_REPO": ""})
    assert r.returncode != 0
    assert "::dvm-recipe-start git" not in r.stdout
