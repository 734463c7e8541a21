#!/usr/bin/python3
"""shellcheck over every Bash text dvm sends to a guest (issue 13). Fails, never skips, when
shellcheck is missing.

  (a) every libdvm/guest/*.sh file, as written (their headers declare the inputs the C++ side
      defines before them);
  (b) the scripts as sent: every lifecycle script, the `bash -c` texts, the provision scripts
      and sync programs (bundled recipes, [env] values, secrets), rendered by
      dvm_shellcheck_render with sample and with hostile values, plus the scripts the sync
      program writes through quoted here-documents (dvm-ai-bwrap of the agent-user recipe);
  (c) the guest program and provision scripts of `dvm plan --json` for every bundled template;
  (d) `dvm completion bash`. The zsh script is the same bash function behind a bashcompinit
      preamble, and fish is not a shell shellcheck knows: neither is checked.

usage: check_guest_bash.py SOURCE_DIR RENDER_TOOL DVM_CLI
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import concurrent.futures

import yaml

SEVERITY = "style"  # everything shellcheck reports by default

# In rendered text every value is single-quoted by shell_quote() on purpose, so quotes, '$' and
# backquotes inside a value are data: SC2016 ("expressions don't expand in single quotes"),
# SC2089/SC2090 ("quotes will be treated literally") only describe that. The same code is
# checked without them in (a), where no value is pasted in (the text of repo_checker, a value of
# the dirty check, is dirty-check-repo.sh there).
RENDERED_EXCLUDE = "SC2016,SC2089,SC2090"

failures = []
pool = concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
pending = []


def fail(what, detail):
    failures.append(f"--- {what}\n{detail.rstrip()}")


def shellcheck(path, exclude="", ignore=lambda finding: False):
    """Runs shellcheck -s bash in the pool; records a failure for every finding `ignore` does
    not accept."""
    pending.append(pool.submit(run_shellcheck, path, exclude, ignore))


def run_shellcheck(path, exclude, ignore):
    argv = ["shellcheck", "-s", "bash", "-S", SEVERITY, "-f", "json1"]
    if exclude:
        argv += ["-e", exclude]
    r = subprocess.run(argv + [str(path)], capture_output=True, text=True)
    if r.returncode not in (0, 1) or not r.stdout.strip():
        fail(str(path), f"shellcheck exited {r.returncode}: {r.stderr}")
        return
    findings = [c for c in json.loads(r.stdout)["comments"] if not ignore(c)]
    if findings:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        text = "\n".join(
            f"{path.name}:{c['line']}:{c['column']}: {c['level']} SC{c['code']}: {c['message']}\n"
            f"    {lines[c['line'] - 1] if c['line'] <= len(lines) else ''}"
            for c in findings)
        fail(str(path), text)


def helper_library_lines(text):
    """Line numbers (1-based, inclusive) of the recipe helper library in a sync program: from
    "# dvm recipe helpers" to the line before the program's own __dvm_run_recipe."""
    lines = text.split("\n")
    start = lines.index("# dvm recipe helpers") + 1
    end = lines.index("__dvm_run_recipe() {", start)
    return start, end


def check_sync_program(path):
    # _helpers.sh disables SC2034 for its whole file (its globals, such as DVM_CHANGED, are read
    # by the recipes that call its functions); that directive does not reach into the program
    # it is pasted into, so SC2034 is accepted there, and only there.
    start, end = helper_library_lines(path.read_text(encoding="utf-8"))
    shellcheck(path, RENDERED_EXCLUDE,
               lambda c: c["code"] == 2034 and start <= c["line"] <= end)
    check_heredocs(path)


HEREDOC = re.compile(r"<<-?\s*'([A-Za-z_][A-Za-z0-9_]*)'[^\n]*\n(.*?)\n\1\n", re.S)


def check_heredocs(path):
    """Scripts the program writes through quoted here-documents are not looked into by
    shellcheck: each one that starts with a bash shebang is checked on its own."""
    found = []
    for m in HEREDOC.finditer(path.read_text(encoding="utf-8")):
        body = m.group(2) + "\n"
        if not re.match(r"#!(/usr)?/bin/(env )?bash\b", body):
            continue
        found.append(m.group(1))
        target = path.with_name(f"{path.stem}.heredoc-{m.group(1)}-{len(found)}.sh")
        target.write_text(body, encoding="utf-8")
        shellcheck(target)
    return found


def cut_redacted_frames(program):
    """The plan shows the secret frames as "NAME <redacted>\\n<redacted>". They are data read by
    __dvm_read_secrets, not Bash: bash parses the program with them removed."""
    m = re.search(r"\n__dvm_read_secrets ([0-9]+)\n", program)
    if not m:
        return program
    pos = m.end()
    for _ in range(int(m.group(1))):
        frame = re.compile(r"[A-Z_][A-Z0-9_]* <redacted>\n<redacted>").match(program, pos)
        if not frame:
            fail("plan guest program", f"unexpected secret frame at {program[pos:pos + 80]!r}")
            return program
        pos = frame.end()
    return program[:m.end()] + program[pos:]


def check_provision(lima_yaml, prefix, out_dir):
    doc = yaml.safe_load(lima_yaml)
    for i, step in enumerate(doc.get("provision") or [], 1):
        target = out_dir / f"{prefix}-provision-{i}-{step['mode']}.sh"
        target.write_text(step["script"], encoding="utf-8")
        if "{{" in step["script"]:
            fail(str(target), "Lima reads provision scripts as Go templates: no '{{' allowed")
        shellcheck(target, RENDERED_EXCLUDE)


def main():
    source_dir, render_tool, dvm = (pathlib.Path(a) for a in sys.argv[1:4])
    if shutil.which("shellcheck") is None:
        print("shellcheck is not installed: this test needs it", file=sys.stderr)
        return 1
    work = pathlib.Path(tempfile.mkdtemp(prefix="dvm-shellcheck-"))
    try:
        # (a) The files.
        files = sorted((source_dir / "libdvm/guest").glob("*.sh"))
        if len(files) < 10:
            fail("libdvm/guest", f"expected the guest scripts, found {[f.name for f in files]}")
        for f in files:
            if "\n# shellcheck shell=bash\n" not in "\n" + f.read_text(encoding="utf-8"):
                fail(str(f), "no '# shellcheck shell=bash' line ending the header")
            shellcheck(f)

        # (b) The rendered scripts.
        rendered = work / "rendered"
        r = subprocess.run([str(render_tool), str(rendered)], capture_output=True, text=True)
        if r.returncode != 0:
            fail("dvm_shellcheck_render", r.stdout + r.stderr)
        names = sorted(p.name for p in rendered.glob("*.sh"))
        for variant in ("sample", "hostile"):
            for script in ("dirty-check", "activity-probe", "ssh-key", "gpg-key", "copy-stage",
                           "copy-out-check", "copy-install", "login-shell", "sync", "sync-secrets",
                           "provision-1-system", "provision-2-user"):
                if f"{variant}-{script}.sh" not in names:
                    fail("dvm_shellcheck_render", f"did not write {variant}-{script}.sh")
        for name in names:
            path = rendered / name
            if "-sync" in name:
                check_sync_program(path)
            else:
                shellcheck(path, RENDERED_EXCLUDE)
        if "DVM_AI_BWRAP" not in check_heredocs_names(rendered / "sample-sync.sh"):
            fail("sample-sync.sh", "the dvm-ai-bwrap here-document of agent-user was not found")

        # (c) `dvm plan` of every bundled template.
        config = work / "config"
        config.mkdir()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work),
               "DVM_CONFIG": str(config), "NO_COLOR": "1"}

        def dvm_run(*args):
            r = subprocess.run([str(dvm), *args], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                fail(f"dvm {' '.join(args)}", f"exit {r.returncode}\n{r.stdout}{r.stderr}")
            return r.stdout

        listing = json.loads(dvm_run("templates", "--json") or "[]")
        templates = [t["name"] if isinstance(t, dict) else t for t in
                     (listing.get("templates", []) if isinstance(listing, dict) else listing)]
        if not templates:
            fail("dvm templates --json", "no templates listed")
        for template in templates:
            vm = f"sc-{template}"
            dvm_run("init", vm, "--template", template)
            # A secret too (set, so the plan frames it, shown redacted): a top-level key, so
            # it goes before the template's tables.
            vm_file = config / "vms" / f"{vm}.toml"
            vm_file.write_text('secrets = ["DVM_SC_TOKEN"]\n' + vm_file.read_text(encoding="utf-8"),
                               encoding="utf-8")
            env["DVM_SC_TOKEN"] = "it's $(x)\nsecret"
            plan = json.loads(dvm_run("plan", vm, "--json") or "{}")
            if "\n__dvm_read_secrets 1\n" not in plan.get("guest_program", ""):
                fail(f"dvm plan {vm}", "the secret was not framed into the guest program")
            program = plan.get("guest_program", "")
            if "__dvm_run_recipe" not in program:
                fail(f"dvm plan {vm}", "no guest program in the plan")
                continue
            path = work / f"plan-{template}-sync.sh"
            path.write_text(cut_redacted_frames(program), encoding="utf-8")
            check_sync_program(path)
            check_provision(plan.get("lima_yaml", ""), f"plan-{template}", work)

        # (d) The bash completion script.
        completion = work / "completion.bash"
        completion.write_text(dvm_run("completion", "bash"), encoding="utf-8")
        shellcheck(completion)
        for job in pending:
            job.result()  # an exception in a job fails the test
    finally:
        if not failures:
            shutil.rmtree(work, ignore_errors=True)

    if failures:
        print("\n".join(failures))
        print(f"\n{len(failures)} shellcheck failure(s); files kept in {work}")
        return 1
    print(f"shellcheck clean: {len(files)} guest files, {len(names)} rendered scripts, "
          f"{len(templates)} templates, the bash completion")
    return 0


def check_heredocs_names(path):
    return [m.group(1) for m in HEREDOC.finditer(path.read_text(encoding="utf-8"))]


if __name__ == "__main__":
    sys.exit(main())
