"""`dvm completion bash|zsh|fish`: the bash script is loaded and asked for completions; the zsh
and fish scripts are syntax-checked (and fish asked too) where those shells are installed."""

import os
import shutil
import subprocess

import pytest

from conftest import DVM


def bash_complete(dvm, words, cword=None):
    """COMPREPLY for the words typed so far (the last one is being completed)."""
    cword = len(words) - 1 if cword is None else cword
    script = dvm.run("completion", "bash").stdout
    array = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = f"{script}\nCOMP_WORDS=({array}); COMP_CWORD={cword}; _dvm; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    env = dvm.environ(PATH=os.path.dirname(DVM) + ":" + dvm.environ()["PATH"])
    r = subprocess.run(["bash", "-c", program], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(x for x in r.stdout.splitlines() if x)


def test_commands_flags_vm_names_and_templates(dvm):
    dvm.vm("app", "")
    dvm.vm("api", "")
    dvm.vm("web", "")
    assert bash_complete(dvm, ["dvm", "s"]) == ["sh", "shell", "ssh", "ssh-config", "ssh-key", "start", "status",
                                                "stop", "sync"]
    assert "doctor" in bash_complete(dvm, ["dvm", ""])
    assert bash_complete(dvm, ["dvm", "sync", "a"]) == ["api", "app"]
    assert bash_complete(dvm, ["dvm", "--json", "status", ""]) == ["api", "app", "web"]
    assert bash_complete(dvm, ["dvm", "rm", "app", "--"]) == sorted(["--yes", "--force", "--help", "--json", "--verbose"])
    assert bash_complete(dvm, ["dvm", "stop", "--"]) == sorted(["--all", "--inactive", "--force", "--help", "--json", "--verbose"])
    assert bash_complete(dvm, ["dvm", "init", "x", "--template", ""]) == ["app", "cloudflared", "llama", "tailscale"]
    assert bash_complete(dvm, ["dvm", "cp", "--backend", ""]) == ["auto", "rsync", "scp"]
    assert "app:" in bash_complete(dvm, ["dvm", "cp", "a"])
    assert bash_complete(dvm, ["dvm", "completion", ""]) == ["bash", "fish", "zsh"]
    # After the VM name, ssh's words belong to the guest command: no VM names there.
    assert bash_complete(dvm, ["dvm", "ssh", "app", ""]) == []
    # The aliases complete as their commands do.
    assert bash_complete(dvm, ["dvm", "ex"]) == ["exec"]
    assert bash_complete(dvm, ["dvm", "exec", "app", ""]) == []
    assert bash_complete(dvm, ["dvm", "shell", "a"]) == ["api", "app"]
    assert bash_complete(dvm, ["dvm", "logs", "w"]) == ["web"]
    assert bash_complete(dvm, ["dvm", "delete", "app", "--y"]) == ["--yes"]
    assert "--recipes" in bash_complete(dvm, ["dvm", "list", "--"])
    # The new commands: VM names where they take one, none after templates.
    assert bash_complete(dvm, ["dvm", "ssh-config", "a"]) == ["api", "app"]
    assert bash_complete(dvm, ["dvm", "edit", "w"]) == ["web"]
    assert bash_complete(dvm, ["dvm", "start", "--"]) == sorted(["--all", "--help", "--json", "--verbose"])
    assert bash_complete(dvm, ["dvm", "sync", "--res"]) == ["--restart"]
    assert bash_complete(dvm, ["dvm", "sync", "--r"]) == ["--recipe", "--restart"]
    assert bash_complete(dvm, ["dvm", "sync", "app", "w"]) == ["web"]
    assert bash_complete(dvm, ["dvm", "templates", ""]) == []
    # Completion never calls limactl.
    assert dvm.sim.calls() == []


def test_the_hidden_helper(dvm):
    dvm.vm("app", "")
    assert dvm.ok("__complete", "vms").stdout == "app\n"
    assert dvm.ok("__complete", "templates").stdout.split() == ["app", "cloudflared", "llama", "tailscale"]
    assert "__complete" not in dvm.ok("--help").stdout
    assert dvm.run("__complete", "nonsense").returncode == 2
    assert dvm.run("completion", "tcsh").returncode == 2


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses(dvm, tmp_path):
    path = tmp_path / "dvm.zsh"
    path.write_text(dvm.ok("completion", "zsh").stdout)
    r = subprocess.run(["zsh", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_parses_and_completes(dvm, tmp_path):
    dvm.vm("app", "")
    path = tmp_path / "dvm.fish"
    path.write_text(dvm.ok("completion", "fish").stdout)
    r = subprocess.run(["fish", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    env = dvm.environ(PATH=os.path.dirname(DVM) + ":" + dvm.environ()["PATH"])
    r = subprocess.run(["fish", "-c", f"source {path}; complete -C 'dvm sync '"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "app" in [line.split("\t")[0] for line in r.stdout.splitlines()]
