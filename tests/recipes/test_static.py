"""Static checks of the bundled recipes: shape, syntax, shellcheck, no `exit`, no secret in
argv. Run with Debian's /usr/bin/python3 -m pytest tests/recipes -q."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from recipetools import (
    AI_RECIPES, BUNDLED, HELPERS, RECIPES_DIR, PINNED, bare_words, recipe_path, recipe_text,
    strip_heredocs, wrap_recipe,
)

ALL_FILES = BUNDLED + ["_helpers"]


def test_every_bundled_recipe_exists():
    missing = [n for n in BUNDLED if not recipe_path(n).is_file()]
    assert not missing, f"missing recipes: {missing}"


def test_no_unexpected_files():
    names = {p.stem for p in RECIPES_DIR.glob("*.sh")}
    assert names == set(ALL_FILES), sorted(names ^ set(ALL_FILES))


@pytest.mark.parametrize("name", BUNDLED)
def test_first_line_is_description(name):
    first = recipe_text(name).splitlines()[0]
    assert re.fullmatch(r"# Description: \S.*", first), first
    assert len(first) < 200


@pytest.mark.parametrize("name", ALL_FILES)
def test_no_shebang_no_set_e(name):
    text = recipe_text(name)
    assert not text.startswith("#!")
    code = strip_heredocs(text)
    assert not re.search(r"(?m)^\s*set\s+-[a-z]*e", code), "recipes must not set strict mode"


@pytest.mark.parametrize("name", ALL_FILES)
def test_bash_syntax(name):
    r = subprocess.run(["bash", "-n", str(recipe_path(name))], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("name", ALL_FILES)
def test_shellcheck(name, tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    if name == "_helpers":
        target = HELPERS
    else:
        # As the generator places it: inside a function (so `local` and `return` are valid).
        target = tmp_path / f"{name}.sh"
        target.write_text(wrap_recipe(name), encoding="utf-8")
    r = subprocess.run(["shellcheck", "-s", "bash", str(target)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("name", ALL_FILES)
def test_no_exit(name):
    """A recipe runs inside a function of the one guest shell: `exit` would end the whole
    sync (later recipes, the secret cleanup order, the project hook). Here-document bodies
    (scripts the recipe writes to files) may use exit."""
    words = bare_words(recipe_text(name))
    assert words, "tokenizer read nothing"
    assert "exit" not in words


def test_bare_words_sees_exit():
    assert "exit" in bare_words("foo\nif x; then exit 0; fi\n")
    assert "exit" not in bare_words("echo 'exit'\ncat <<'E'\nexit 1\nE\n# exit\n")


# --- secrets ----------------------------------------------------------------------------

_SECRET_ASSIGN = re.compile(r'^\s*(?:local\s+)?([a-z_][a-z0-9_]*)="\$\(dvm_secret ([A-Z_][A-Z0-9_]*)\)"\s*$')
# Where a variable holding a secret may appear: builtins only (no new process gets it in argv).
_SECRET_USES = [
    r"""^\s*printf '[^']*' "\${v}" \| dvm_write_file .*$""",   # builtin printf into a pipe
    r"""^\s*if ! \[\[ "\${v}" =~ .* \]\]; then$""",            # [[ ]] is a shell keyword
    r"""^\s*{v}=''$""",                                         # forgetting it
]


@pytest.mark.parametrize("name", ALL_FILES)
def test_secrets_never_reach_argv(name):
    code = strip_heredocs(recipe_text(name))
    lines = code.splitlines()
    secret_vars = {}
    for line in lines:
        if "dvm_secret" in line and not line.lstrip().startswith("#"):
            m = _SECRET_ASSIGN.match(line)
            assert m, f"dvm_secret may only be read into a variable: {line.strip()}"
            secret_vars[m.group(1)] = m.group(2)
    for var in secret_vars:
        pats = [re.compile(p.replace("{v}", var)) for p in _SECRET_USES]
        for line in lines:
            if re.search(r"\$\{?" + var + r"\b", line) or re.match(r"^\s*" + var + "=", line):
                if _SECRET_ASSIGN.match(line):
                    continue
                assert any(p.match(line) for p in pats), f"secret variable ${var} used in: {line.strip()}"
    # The staged files are read only through dvm_secret, grep -f, or tailscale's file: form.
    for line in lines:
        if "DVM_SECRET_FILE_" in line or "token_file" in line or "key_file" in line:
            assert "$(cat" not in line and "`cat" not in line, line.strip()


def test_cloudflared_token_stays_out_of_the_unit():
    text = recipe_text("cloudflared")
    assert "EnvironmentFile=$env_file" in text
    assert "TUNNEL_TOKEN}" not in text and "--token" not in text
    assert 'grep -cF -f "$token_file"' in text
    assert "dvm_write_file \"$env_file\" 0600 root:root" in text


def test_tailscale_key_read_from_file():
    text = recipe_text("tailscale")
    assert '--auth-key="file:$key_file"' in text
    assert "--auth-key=$" not in text


def test_cloudflared_without_token_returns():
    code = strip_heredocs(recipe_text("cloudflared"))
    assert "return 0" in code


@pytest.mark.parametrize("name", AI_RECIPES)
def test_ai_recipes_require_agent_user_first(name):
    lines = [l for l in recipe_text(name).splitlines() if l.strip() and not l.startswith("#")]
    assert lines[0].strip() == "dvm_require_agent_user"


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned_recipes_have_both_arches(name):
    text = recipe_text(name)
    urls = re.findall(r"url=(https://\S+)", text)
    shas = re.findall(r"sha=([0-9a-f]{64})\b", text)
    assert len(urls) == 2 and len(shas) == 2 and len(set(shas)) == 2
    assert any("x86_64" in u for u in urls) and any("aarch64" in u or "arm64" in u for u in urls)
    assert f"dvm_pinned_install {name} " in text


def test_curl_is_https_only():
    text = HELPERS.read_text(encoding="utf-8")
    assert "--proto '=https'" in text and "--proto-redir '=https'" in text
    assert "--fail" in text and "--retry" in text
    # every curl call in the recipes goes through the helper
    for name in BUNDLED:
        assert not re.search(r"(?m)^[^#]*\bcurl\s+-", strip_heredocs(recipe_text(name))), name


def _embedded_scripts():
    """Scripts that recipes write to files (quoted here-documents starting with a shebang),
    and the root-side script of dvm_write_file."""
    out = []
    for name in ALL_FILES:
        lines = recipe_text(name).splitlines()
        i = 0
        while i < len(lines):
            m = re.search(r"<<'([A-Z_][A-Z0-9_]*)'", lines[i])
            if m:
                end = m.group(1)
                body = []
                i += 1
                while i < len(lines) and lines[i] != end:
                    body.append(lines[i])
                    i += 1
                if body and (body[0].startswith("#!/bin/bash") or end == "DVM_WRITE_FILE"):
                    out.append((f"{name}:{end}", "\n".join(body) + "\n"))
            i += 1
    return out


EMBEDDED = _embedded_scripts()


def test_embedded_scripts_found():
    names = [n for n, _ in EMBEDDED]
    assert "agent-user:DVM_AI_BWRAP" in names and "_helpers:DVM_WRITE_FILE" in names


@pytest.mark.parametrize("label,body", EMBEDDED, ids=[n for n, _ in EMBEDDED])
def test_embedded_script_checks(label, body, tmp_path):
    f = tmp_path / "script.sh"
    f.write_text(body)
    r = subprocess.run(["bash", "-n", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    r = subprocess.run(["shellcheck", "-s", "bash", str(f)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dvm_ai_bwrap_has_no_unsandboxed_path():
    body = dict(EMBEDDED)["agent-user:DVM_AI_BWRAP"]
    execs = [l.strip() for l in body.splitlines() if re.match(r"\s*exec\b", l)]
    assert execs == ['exec sudo -n -H -u "$agent" -- /usr/bin/env -i "$BWRAP" "${args[@]}" -- "$target" "$@"']
    for flag in ("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--clearenv", "--ro-bind /usr /usr",
                 "--ro-bind /etc /etc", "--tmpfs /tmp", '--bind "$code_real" /workspace'):
        assert flag in body, flag
    # (the /proc probe binds / read-only for a throw-away `true`; the tool's sandbox never does)
    sandbox = "\n".join(l for l in body.splitlines() if "-- /usr/bin/true" not in l)
    binds = re.findall(r"--(?:ro-)?bind(?:-try)? (\S+) (\S+)", sandbox)
    assert ("\"$home\"", "\"$home\"") in binds and ("\"$code_real\"", "/workspace") in binds
    assert not any("caller" in src or src in ("/", "/home") for src, _ in binds), binds
