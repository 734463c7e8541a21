"""Host-side tests of _helpers.sh: settings, validators, TOML strings, atomic writes, the
verified download and the pinned installer (the last one inside a throw-away Bubblewrap mount
namespace with a private /usr/local, so it needs root and bwrap; it skips otherwise)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from recipetools import HELPERS

BASH = shutil.which("bash") or "/bin/bash"


def run_helpers(script: str, *, env: dict[str, str] | None = None, check: bool = False,
                cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    prog = "set -euo pipefail\nDVM_RECIPE=test\n" + HELPERS.read_text() + "\n" + script + "\n"
    full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"),
                "LANG": "C.UTF-8"}
    full_env.update(env or {})
    r = subprocess.run([BASH, "-c", prog], capture_output=True, text=True, env=full_env, cwd=cwd)
    if check:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


# The phrase "guest sandbox unavailable" makes DVM_REQUIRE_SANDBOX=1 (CI) turn the skip into a
# failure (tests/dvm_skip_rules.py).
SUDO_MISSING = "guest sandbox unavailable: needs passwordless sudo (or root)"


def can_sudo() -> bool:
    if shutil.which("sudo") is None:
        return False
    return subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0


# --- settings ---------------------------------------------------------------------------

@pytest.mark.parametrize("value,expected", [
    ("1", "true"), ("true", "true"), ("yes", "true"), ("TRUE", "true"), ("Yes", "true"),
    ("0", "false"), ("false", "false"), ("no", "false"), ("False", "false"),
])
def test_bool_values(value, expected):
    r = run_helpers("dvm_bool CODEX_YOLO true", env={"DVM_CODEX_YOLO": value}, check=True)
    assert r.stdout == expected + "\n"


@pytest.mark.parametrize("default,expected", [("true", "true"), ("false", "false")])
def test_bool_default_when_unset_or_empty(default, expected):
    assert run_helpers(f"dvm_bool X {default}", check=True).stdout == expected + "\n"
    assert run_helpers(f"dvm_bool X {default}", env={"DVM_X": ""}, check=True).stdout == expected + "\n"


@pytest.mark.parametrize("value", ["maybe", "2", "on", "y", " true"])
def test_bool_rejects_other_values_naming_the_key(value):
    r = run_helpers('v="$(dvm_bool CLAUDE_BYPASS true)"; echo "got $v"', env={"DVM_CLAUDE_BYPASS": value})
    assert r.returncode != 0
    assert "got" not in r.stdout
    assert "dvm recipe: error: test: [env] CLAUDE_BYPASS must be a boolean" in r.stderr


def test_die_stops_strict_mode_and_names_recipe():
    r = run_helpers("dvm_die boom; echo after")
    assert r.returncode == 1 and "after" not in r.stdout
    assert r.stderr.strip() == "dvm recipe: error: test: boom"
    r = run_helpers("dvm_warn careful; echo after", check=True)
    assert r.stderr.strip() == "dvm recipe: warning: test: careful" and "after" in r.stdout


def test_setting_default():
    assert run_helpers("dvm_setting LLAMA_PORT 8080", check=True).stdout == "8080\n"
    assert run_helpers("dvm_setting LLAMA_PORT 8080", env={"DVM_LLAMA_PORT": "9"}, check=True).stdout == "9\n"


# --- validators -------------------------------------------------------------------------

GOOD = [
    ("port", "1"), ("port", "8080"), ("port", "65535"),
    ("service", "dvm-llama.service"), ("service", "a@b_c.service"),
    ("https_url", "https://github.com/a/b/releases/download/v1/x.tar.gz"),
    ("https_url", "https://example.com:8443/p?q=1#f"),
    ("http_url", "http://lima-dvm-app.internal:3000"), ("http_url", "https://x.y/"),
    ("sha256", "a" * 64), ("sha256", "ABCDEF0123456789" * 4),
    ("user_name", "dvm-agent"), ("abs_path", "/home/u/code/app"), ("abs_path", "/"),
]
BAD = [
    ("port", ""), ("port", "0"), ("port", "65536"), ("port", "080"), ("port", "80a"), ("port", "-1"),
    ("service", "x"), ("service", "a/b.service"), ("service", "../x.service"),
    ("service", "a b.service"), ("service", ".service"), ("service", "-x.service"),
    ("https_url", "http://example.com/x"), ("https_url", "ftp://x/y"), ("https_url", "https://"),
    ("https_url", "https://user:tok@example.com/x"), ("https_url", "https://x/a b"),
    ("https_url", "https://x/a\"b"), ("https_url", "https://x/$(id)"), ("https_url", "example.com"),
    ("http_url", "file:///etc/passwd"), ("http_url", "javascript:alert(1)"), ("http_url", "http://x/`id`"),
    ("sha256", "a" * 63), ("sha256", "g" * 64), ("sha256", ""),
    ("user_name", "Root"), ("user_name", "a:b"), ("abs_path", "rel/x"), ("abs_path", "/a/../b"),
    ("abs_path", "/a//b"), ("abs_path", "/a/"),
]


@pytest.mark.parametrize("kind,value", GOOD)
def test_validator_accepts(kind, value):
    run_helpers(f'dvm_validate_{kind} "$V" what', env={"V": value}, check=True)


@pytest.mark.parametrize("kind,value", BAD)
def test_validator_rejects(kind, value):
    r = run_helpers(f'dvm_validate_{kind} "$V" WHAT; echo after', env={"V": value})
    assert r.returncode != 0 and "after" not in r.stdout
    assert "dvm recipe: error: test: WHAT" in r.stderr


def test_toml_string():
    r = run_helpers('dvm_toml_string "$V"', env={"V": 'a"b\\c\nd\te\x01é'}, check=True)
    assert r.stdout == '"a\\"b\\\\c\\nd\\te\\u0001é"\n'


def test_arch():
    r = run_helpers("dvm_arch", check=True)
    assert r.stdout.strip() in {"x86_64", "aarch64"}


# --- files ------------------------------------------------------------------------------

@pytest.mark.skipif(not can_sudo(), reason=SUDO_MISSING)
def test_write_file_only_when_different(tmp_path):
    target = tmp_path / "d" / "f.conf"
    target.parent.mkdir()
    script = f"""
w() {{ printf '%s' "$1" | dvm_write_file {target} "$2" "$(id -un)"; echo "changed=$DVM_CHANGED"; }}
w hello 0640; w hello 0640; w hello 0600; w bye 0600
"""
    r = run_helpers(script, check=True)
    assert r.stdout.split() == ["changed=1", "changed=0", "changed=1", "changed=1"]
    assert target.read_text() == "bye"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.conf"]  # no temp files left


@pytest.mark.skipif(not can_sudo(), reason=SUDO_MISSING)
def test_write_file_keeps_inode_when_unchanged_and_refuses_missing_dir(tmp_path):
    target = tmp_path / "f"
    run_helpers(f"printf x | dvm_write_file {target} 0644 \"$(id -un)\"", check=True)
    before = target.stat()
    run_helpers(f"printf x | dvm_write_file {target} 0644 \"$(id -un)\"", check=True)
    after = target.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    r = run_helpers(f"printf x | dvm_write_file {tmp_path}/nope/f 0644 \"$(id -un)\"")
    assert r.returncode != 0 and "cannot write" in r.stderr
    r = run_helpers(f"printf x | dvm_write_file relative/f 0644 root")
    assert r.returncode != 0


# --- downloads --------------------------------------------------------------------------

FAKE_CURL = r"""#!/bin/bash
# Test stand-in for curl: serves files registered in $FAKE_CURL_MAP (lines: URL<TAB>FILE),
# logs its argv to $FAKE_CURL_LOG.
printf '%s\n' "$*" >>"$FAKE_CURL_LOG"
out='' url=''
while [ $# -gt 0 ]; do
  case "$1" in
    --output|-o) out="$2"; shift 2 ;;
    --proto|--proto-redir|--retry|--retry-delay|--connect-timeout) shift 2 ;;
    -*) shift ;;
    *) url="$1"; shift ;;
  esac
done
src="$(awk -F'\t' -v u="$url" '$1 == u { print $2 }' "$FAKE_CURL_MAP")"
[ -n "$src" ] || { echo "curl: (22) The requested URL returned error: 404" >&2; exit 22; }
cp -- "$src" "$out"
"""


@pytest.fixture
def fake_curl(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    curl = bindir / "curl"
    curl.write_text(FAKE_CURL)
    curl.chmod(0o755)
    mapping = tmp_path / "curl.map"
    mapping.write_text("")
    log = tmp_path / "curl.log"
    log.write_text("")

    class Fake:
        env = {"PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
               "FAKE_CURL_MAP": str(mapping), "FAKE_CURL_LOG": str(log)}
        calls = log

        @staticmethod
        def serve(url: str, path: Path) -> str:
            with mapping.open("a") as f:
                f.write(f"{url}\t{path}\n")
            return hashlib.sha256(path.read_bytes()).hexdigest()

    return Fake


def test_download_verified_ok_and_mismatch(tmp_path, fake_curl):
    payload = tmp_path / "payload"
    payload.write_bytes(b"pinned content\n")
    sha = fake_curl.serve("https://fixtures.test/p", payload)
    dest = tmp_path / "out"
    run_helpers(f'dvm_download_verified https://fixtures.test/p {sha} {dest}', env=fake_curl.env, check=True)
    assert dest.read_bytes() == b"pinned content\n"
    args = fake_curl.calls.read_text()
    assert "--proto =https" in args and "--proto-redir =https" in args and "--fail" in args
    r = run_helpers(f'dvm_download_verified https://fixtures.test/p {"0" * 64} {dest}', env=fake_curl.env)
    assert r.returncode != 0 and "sha256 mismatch" in r.stderr
    assert not dest.exists()
    r = run_helpers(f'dvm_download_verified https://fixtures.test/missing {sha} {dest}', env=fake_curl.env)
    assert r.returncode != 0 and "download failed" in r.stderr
    r = run_helpers(f'dvm_download_verified http://fixtures.test/p {sha} {dest}', env=fake_curl.env)
    assert r.returncode != 0 and "https" in r.stderr


def make_tar_gz(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tf.addfile(info, io.BytesIO(data))


def make_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def bwrap_root_ok() -> bool:
    if os.geteuid() != 0 or shutil.which("bwrap") is None or not can_sudo():
        return False
    r = subprocess.run(["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/usr/local", "true"], capture_output=True)
    return r.returncode == 0


needs_private_usr_local = pytest.mark.skipif(
    not bwrap_root_ok(),
    reason="guest sandbox unavailable: needs root and bwrap to give the test a private /usr/local")


def run_in_private_usr_local(script: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Runs helpers + script with a private tmpfs /usr/local; afterwards copies it to
    tmp_path/usr_local for inspection."""
    keep = tmp_path / "usr_local"
    keep.mkdir(exist_ok=True)
    prog = ("set -euo pipefail\nDVM_RECIPE=test\n" + HELPERS.read_text() + "\n"
            f"trap 'cp -a /usr/local/. {keep}/' EXIT\n" + script + "\n")
    full_env = {"PATH": env.get("PATH", os.environ.get("PATH", "")), "HOME": "/root", "LANG": "C.UTF-8"}
    full_env.update(env)
    return subprocess.run(
        ["bwrap", "--dev-bind", "/", "/", "--tmpfs", "/usr/local", BASH, "-c", prog],
        capture_output=True, text=True, env=full_env)


@needs_private_usr_local
def test_pinned_install_tar_gz(tmp_path, fake_curl):
    archive = tmp_path / "tool.tar.gz"
    make_tar_gz(archive, {"tool-1.0/tool": b"#!/bin/sh\necho tool 1.0\n", "tool-1.0/README": b"hi"})
    sha = fake_curl.serve("https://fixtures.test/tool-1.0.tar.gz", archive)
    script = f"""
dvm_pinned_install tool tar.gz https://fixtures.test/tool-1.0.tar.gz {sha} tool
/usr/local/bin/tool
: >"$FAKE_CURL_LOG"
dvm_pinned_install tool tar.gz https://fixtures.test/tool-1.0.tar.gz {sha} tool
echo "second-run-curl-calls=$(wc -l <"$FAKE_CURL_LOG")"
"""
    r = run_in_private_usr_local(script, fake_curl.env, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "tool 1.0" in r.stdout
    assert "second-run-curl-calls=0" in r.stdout
    marker = (tmp_path / "usr_local/share/dvm/pins/tool").read_text()
    assert f"sha256 {sha}" in marker and "url https://fixtures.test/tool-1.0.tar.gz" in marker
    installed = tmp_path / "usr_local/bin/tool"
    assert stat.S_IMODE(installed.stat().st_mode) == 0o755
    assert f"bin tool {hashlib.sha256(installed.read_bytes()).hexdigest()}" in marker


@needs_private_usr_local
def test_pinned_install_mismatch_installs_nothing(tmp_path, fake_curl):
    archive = tmp_path / "tool.tar.gz"
    make_tar_gz(archive, {"tool": b"#!/bin/sh\necho evil\n"})
    fake_curl.serve("https://fixtures.test/tool.tar.gz", archive)
    script = f"dvm_pinned_install tool tar.gz https://fixtures.test/tool.tar.gz {'1' * 64} tool"
    r = run_in_private_usr_local(script, fake_curl.env, tmp_path)
    assert r.returncode != 0
    assert "sha256 mismatch" in r.stderr
    left = sorted(str(p.relative_to(tmp_path / "usr_local")) for p in (tmp_path / "usr_local").rglob("*"))
    assert left == [], left


@needs_private_usr_local
def test_pinned_install_zip_two_bins_and_reinstall_on_tamper(tmp_path, fake_curl):
    archive = tmp_path / "y.zip"
    make_zip(archive, {"y-x86/yazi": b"#!/bin/sh\necho yazi\n", "y-x86/ya": b"#!/bin/sh\necho ya\n",
                       "y-x86/completions/_yazi": b"x"})
    sha = fake_curl.serve("https://fixtures.test/y.zip", archive)
    script = f"""
dvm_pinned_install yazi zip https://fixtures.test/y.zip {sha} yazi ya
printf 'tampered\\n' >/usr/local/bin/ya
: >"$FAKE_CURL_LOG"
dvm_pinned_install yazi zip https://fixtures.test/y.zip {sha} yazi ya
echo "reinstall-curl-calls=$(wc -l <"$FAKE_CURL_LOG")"
/usr/local/bin/ya
"""
    r = run_in_private_usr_local(script, fake_curl.env, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reinstall-curl-calls=1" in r.stdout and r.stdout.rstrip().endswith("ya")


@needs_private_usr_local
def test_pinned_install_env_override(tmp_path, fake_curl):
    archive = tmp_path / "lg.tar.gz"
    make_tar_gz(archive, {"lazygit": b"#!/bin/sh\necho fixture lazygit\n"})
    sha = fake_curl.serve("https://fixtures.test/lazygit.tar.gz", archive)
    env = dict(fake_curl.env, DVM_PIN_LAZYGIT_URL="https://fixtures.test/lazygit.tar.gz",
               DVM_PIN_LAZYGIT_SHA256=sha)
    r = run_in_private_usr_local(
        f"dvm_pinned_install lazygit tar.gz https://example.invalid/real.tar.gz {'2' * 64} lazygit\n"
        "/usr/local/bin/lazygit", env, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "fixture lazygit" in r.stdout
    # Only one of the pair: refused.
    env.pop("DVM_PIN_LAZYGIT_SHA256")
    r = run_in_private_usr_local(
        f"dvm_pinned_install lazygit tar.gz https://example.invalid/real.tar.gz {'2' * 64} lazygit", env, tmp_path)
    assert r.returncode != 0 and "must be set together" in r.stderr
    # The override follows the same rules: https only.
    env.update(DVM_PIN_LAZYGIT_URL="http://fixtures.test/lazygit.tar.gz", DVM_PIN_LAZYGIT_SHA256=sha)
    r = run_in_private_usr_local(
        f"dvm_pinned_install lazygit tar.gz https://example.invalid/real.tar.gz {'2' * 64} lazygit", env, tmp_path)
    assert r.returncode != 0 and "https" in r.stderr


@needs_private_usr_local
def test_pinned_install_ambiguous_archive_installs_nothing(tmp_path, fake_curl):
    archive = tmp_path / "amb.tar.gz"
    make_tar_gz(archive, {"a/tool": b"1", "b/tool": b"2", "a/other": b"3"})
    sha = fake_curl.serve("https://fixtures.test/amb.tar.gz", archive)
    r = run_in_private_usr_local(
        f"dvm_pinned_install amb tar.gz https://fixtures.test/amb.tar.gz {sha} other tool", fake_curl.env, tmp_path)
    assert r.returncode != 0 and "exactly one file named tool" in r.stderr
    assert not (tmp_path / "usr_local/bin/other").exists()
