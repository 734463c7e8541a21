"""`dvm ssh-key` and `dvm gpg-key` end to end: the keys are really generated in the simulator's
guest sandbox (real ssh-keygen, gpg and git), and inspected there with the same tools."""

import os
import subprocess
import time

import pytest

from conftest import shared_env


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with shared_env(tmp_path_factory, "keys", {"app": "baseline = false\n"}, sync=["app"]) as e:
        # An existing ssh config must survive.
        e.guest("app", 'mkdir -p -m 700 ~/.ssh && printf "Host example.org\\n  User someone\\n" >~/.ssh/config')
        yield e


def guest_sha(env, *paths):
    return env.guest("app", "sha256sum " + " ".join(paths))


# --- ssh-key -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ssh_keys(env):
    """The first `dvm ssh-key app --json`."""
    env.sim.clear_calls()
    first = env.json("ssh-key", "app")
    return first, [c["argv"] for c in env.sim.calls()]


def test_ssh_key_creates_two_ed25519_keys(env, ssh_keys):
    first, argvs = ssh_keys
    assert first["created"] is True
    access, signing = first["access_public_key"], first["signing_public_key"]
    assert access.startswith("ssh-ed25519 ") and access.endswith(" app-dvm-git-access")
    assert signing.startswith("ssh-ed25519 ") and signing.endswith(" app-dvm-git-signing")
    assert access.split()[1] != signing.split()[1]
    # One guest script over stdin; no key material or config value in any argv.
    assert argvs == [["list", "--json", "dvm-app"], ["shell", "--workdir", "/", "dvm-app", "/bin/bash", "-p", "-s"]]
    # What the guest holds: private keys 0600 in a 0700 ~/.ssh, unencrypted, matching the
    # printed public keys.
    out = env.guest("app", r'''
cd ~/.ssh
stat -c '%a %n' . id_ed25519_dvm id_ed25519_dvm_signing
for k in id_ed25519_dvm id_ed25519_dvm_signing; do
  ssh-keygen -y -P '' -f "$k"        # fails if the key had a passphrase
  ssh-keygen -l -f "$k" | awk '{print $NF}'
done
cat id_ed25519_dvm.pub id_ed25519_dvm_signing.pub
''').splitlines()
    assert out[:3] == ["700 .", "600 id_ed25519_dvm", "600 id_ed25519_dvm_signing"]
    assert out[3].split()[:2] == access.split()[:2] and out[4] == "(ED25519)"
    assert out[5].split()[:2] == signing.split()[:2] and out[6] == "(ED25519)"
    assert out[7:] == [access, signing]


def test_ssh_key_configures_github_ssh_and_keeps_the_users_config(env, ssh_keys):
    home = env.guest("app", 'printf %s "$HOME"')
    cfg = env.guest("app", "cat ~/.ssh/config")
    assert cfg.startswith("Host example.org\n  User someone\n")
    assert cfg.count("Host github.com") == 1
    # How ssh itself reads it.
    resolved = dict(line.split(" ", 1) for line in env.guest("app", "ssh -G github.com").splitlines() if " " in line)
    assert resolved["user"] == "git"
    assert resolved["hostname"] == "github.com"
    assert resolved["identitiesonly"] == "yes"
    assert resolved["identityfile"] == f"{home}/.ssh/id_ed25519_dvm"
    assert env.guest("app", "ssh -G example.org | awk '$1 == \"user\" {print $2}'") == "someone\n"
    assert env.guest("app", "stat -c %a ~/.ssh/config") == "600\n"


def test_ssh_key_configures_commit_signing_that_really_signs(env, ssh_keys):
    first, _ = ssh_keys
    home = env.guest("app", 'printf %s "$HOME"')
    assert env.guest("app", "git config --get gpg.format") == "ssh\n"
    assert env.guest("app", "git config --get commit.gpgsign") == "true\n"
    assert env.guest("app", "git config --get user.signingkey") == f"{home}/.ssh/id_ed25519_dvm_signing.pub\n"
    # A commit made in the guest is signed with the signing key, and verifies against it.
    out = env.guest("app", r'''
set -e
d=$(mktemp -d)
cd "$d"
git init -q
git -c user.name=T -c user.email=t@example.invalid commit -q --allow-empty -m signed
printf '%s %s\n' t@example.invalid "$(cat ~/.ssh/id_ed25519_dvm_signing.pub)" >allowed
git -c gpg.ssh.allowedSignersFile="$d/allowed" verify-commit HEAD 2>&1
git cat-file commit HEAD | grep -c 'BEGIN SSH SIGNATURE'
''')
    assert 'Good "git" signature for t@example.invalid with ED25519 key' in out
    assert out.endswith("1\n")


def test_ssh_key_second_run_reuses_the_keys(env, ssh_keys):
    first, _ = ssh_keys
    before = guest_sha(env, "~/.ssh/id_ed25519_dvm", "~/.ssh/id_ed25519_dvm_signing", "~/.ssh/config",
                       "~/.config/git/config")
    again = env.json("ssh-key", "app")
    assert again["created"] is False
    assert again["access_public_key"] == first["access_public_key"]
    assert again["signing_public_key"] == first["signing_public_key"]
    assert guest_sha(env, "~/.ssh/id_ed25519_dvm", "~/.ssh/id_ed25519_dvm_signing", "~/.ssh/config",
                     "~/.config/git/config") == before


def test_ssh_key_text_output_prints_only_public_keys(env, ssh_keys):
    first, _ = ssh_keys
    r = env.ok("ssh-key", "app")
    lines = r.stdout.splitlines()
    assert first["access_public_key"] in lines
    assert first["signing_public_key"] in lines
    assert lines.index(first["access_public_key"]) < lines.index(first["signing_public_key"])
    assert "PRIVATE" not in r.stdout and "PRIVATE" not in r.stderr


def test_ssh_key_restores_a_lost_public_key(env, ssh_keys):
    first, _ = ssh_keys
    env.guest("app", "rm ~/.ssh/id_ed25519_dvm.pub")
    again = env.json("ssh-key", "app")
    assert (again["created"], again["access_public_key"]) == (False, first["access_public_key"])
    assert env.guest("app", "cat ~/.ssh/id_ed25519_dvm.pub").strip() == first["access_public_key"]


# --- gpg-key -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gpg_key(env):
    env.sim.clear_calls()
    before = int(time.time())
    first = env.json("gpg-key", "app")
    return first, before, [c["argv"] for c in env.sim.calls()]


def colons(env, *args):
    out = env.guest("app", "gpg --batch --with-colons --fixed-list-mode " + " ".join(args))
    return [line.split(":") for line in out.splitlines()]


def test_gpg_key_is_an_ed25519_signing_only_key_for_one_year(env, gpg_key):
    first, before, argvs = gpg_key
    assert first["created"] is True
    fpr = first["fingerprint"]
    assert len(fpr) == 40 and all(c in "0123456789ABCDEF" for c in fpr)
    assert argvs == [["list", "--json", "dvm-app"], ["shell", "--workdir", "/", "dvm-app", "/bin/bash", "-p", "-s"]]
    recs = colons(env, "--list-secret-keys")
    secs = [r for r in recs if r[0] == "sec"]
    assert len(secs) == 1, recs
    sec = secs[0]
    assert sec[3] == "22"  # EdDSA
    assert sec[16] == "ed25519"
    assert sec[11] == "scSC"  # certify and sign, nothing else
    assert not [r for r in recs if r[0] in ("ssb", "sub")]  # no encryption (or any) subkey
    created, expires = int(sec[5]), int(sec[6])
    assert before - 5 <= created <= time.time() + 5
    assert 365 * 86400 <= expires - created <= 366 * 86400
    assert [r[9] for r in recs if r[0] == "fpr"] == [fpr]
    assert [r[9] for r in recs if r[0] == "uid"] == ["app dvm <dvm-app@local>"]
    # No passphrase: signing works with pinentry disabled.
    out = env.guest("app", f"printf hello | gpg --batch --pinentry-mode error -u {fpr} --clearsign 2>&1")
    assert "BEGIN PGP SIGNATURE" in out
    # Encryption to it is impossible (signing only).
    r = env.sim.guest_run("dvm-app", f"printf x | gpg --batch --trust-model always -r {fpr} --encrypt")
    assert r.returncode != 0


def test_gpg_key_prints_the_matching_armored_public_key(env, gpg_key, tmp_path):
    first, _, _ = gpg_key
    armored = first["armored_public_key"]
    assert armored.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert armored.rstrip().endswith("-----END PGP PUBLIC KEY BLOCK-----")
    assert "PRIVATE" not in armored
    # Read on the host, the armored key is the guest's key.
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    r = subprocess.run(["gpg", "--homedir", str(home), "--batch", "--with-colons", "--import-options", "show-only",
                        "--import"], input=armored, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    fprs = [line.split(":")[9] for line in r.stdout.splitlines() if line.startswith("fpr:")]
    assert fprs == [first["fingerprint"]]
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, timeout=30)


def test_gpg_key_is_created_once(env, gpg_key):
    first, _, _ = gpg_key
    again = env.json("gpg-key", "app")
    assert again["created"] is False
    assert again["fingerprint"] == first["fingerprint"]
    assert again["armored_public_key"] == first["armored_public_key"]
    assert len([r for r in colons(env, "--list-secret-keys") if r[0] == "sec"]) == 1
    r = env.ok("gpg-key", "app")
    assert r.stdout.startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert r.stdout.splitlines()[-1] == f"fingerprint: {first['fingerprint']}"


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ssh-key", "gpg-key"])
def test_key_commands_on_unknown_and_absent_vms(env, command):
    env.vm("ghost", "baseline = false\n")
    try:
        env.sim.clear_calls()
        r = env.run(command, "nope")
        assert r.returncode == 2
        assert "nope" in r.stderr
        assert env.sim.calls() == []
        r = env.run(command, "ghost")
        assert r.returncode == 1
        assert "dvm sync ghost" in r.stderr
        assert env.subcommands() == ["list"]
        for args in ([command], [command, "app", "extra"], [command, "-x", "app"]):
            r = env.run(*args)
            assert r.returncode == 2, args
        assert env.subcommands() == ["list"]
    finally:
        os.unlink(env.config / "vms" / "ghost.toml")
