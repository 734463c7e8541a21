"""Progress while a VM is created and started (issue 12, item 5): the logrus lines `limactl create`
and `limactl start` write to stderr (`time=... level=info msg="..."`, msg Go-%q-quoted) become
lima_progress events -- name: the subcommand, message: the msg text, duration: since the call
began -- as they arrive, between the call's limactl_started and limactl_finished events."""

import json

SECRET = "sekrit-value-4c1d"


def events(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{") and '"event"' in line]


def test_a_fresh_sync_shows_lima_progress_of_create_and_start(dvm):
    dvm.vm("app", 'baseline = false\nsecrets = ["API_TOKEN"]\n')
    r = dvm.ok("--json", "sync", "app", env={"API_TOKEN": SECRET})
    evs = events(r.stdout)
    progress = [e for e in evs if e["event"] == "lima_progress"]
    create = [e["message"] for e in progress if e["name"] == "create"]
    start = [e["message"] for e in progress if e["name"] == "start"]
    # What the simulator prints, as Lima does (tests/limasim/limasim/lifecycle.py), %q undone.
    assert "Attempting to download the image" in create
    assert 'Starting the instance "dvm-app" with internal VM driver "qemu"' in start
    assert '[hostagent] Waiting for the essential requirement 1 of 2: "ssh"' in start
    assert start[-1] == "READY. Run `limactl shell dvm-app` to open the shell."
    assert all(e["vm"] == "app" for e in progress)
    assert not [m for m in create + start if "level=" in m or "time=" in m]
    # Each inside its own call, with the time since that call began.
    for sub in ("create", "start"):
        kinds = [(e["event"], e.get("name")) for e in evs]
        begin = kinds.index(("limactl_started", sub))
        end = kinds.index(("limactl_finished", sub))
        inside = [e for e in evs[begin + 1:end]]
        assert inside and all(e["event"] == "lima_progress" and e["name"] == sub for e in inside), inside
        times = [e["duration_ms"] for e in inside]
        assert times == sorted(times) and times[-1] <= evs[end]["duration_ms"]
    # Nothing of a secret in any event (limactl create's stdin is the lima.yaml; start has none).
    assert SECRET not in r.stdout and SECRET not in r.stderr
    # A warm sync starts nothing and so shows no Lima progress.
    r = dvm.ok("--json", "sync", "app", env={"API_TOKEN": SECRET})
    assert not [e for e in events(r.stdout) if e["event"] == "lima_progress"]


def test_a_failed_start_shows_its_progress_and_reports_the_fatal_line_once(dvm):
    dvm.vm("bad", "baseline = false\n")
    dvm.sim.add_fault(action="fail", subcommand="start", instance="dvm-bad", exit_code=1, stderr=(
        'time="2026-12-02T03:12:03Z" level=info msg="Downloading \\"nerdctl\\"\\tarchive \\u00e9"\n'
        'time="2026-12-02T03:12:04Z" level=error msg="[hostagent] driver crashed"\n'
        'time="2026-12-02T03:12:04Z" level=fatal msg="exiting, status={Running:false}"\n'))
    r = dvm.run("--json", "sync", "bad")
    assert r.returncode == 1, r.stderr
    evs = events(r.stdout)
    start = [e["message"] for e in evs if e["event"] == "lima_progress" and e["name"] == "start"]
    assert start == ['Downloading "nerdctl"\tarchive \u00e9']
    # The error and fatal lines are in the error, not also warning events.
    assert not [e for e in evs if e["event"] == "warning"]
    err = json.loads(r.stdout.splitlines()[-1])["error"]
    assert "[hostagent] driver crashed" in err["message"] and "exiting, status" in err["message"]
