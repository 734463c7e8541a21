"""Threads: blocking calls release the GIL, clients sync in parallel from Python threads, and
sync_all delivers events from its worker threads (with the GIL, one at a time)."""

import threading
import time

import pytest

import dvm
from conftest import GUEST_USER

VM = 'baseline = false\ncpus = 1\nrecipes = ["mark"]\n'
MARK = 'dvm_secret WHO >"$HOME/who"\n'


def test_other_python_threads_run_during_a_blocking_call(nosandbox_env):
    nosandbox_env.sim.add_fault(subcommand="list", action="slow", ms=1500)
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        before = len(ticks)
        nosandbox_env.client().list()
        during = len(ticks) - before
    finally:
        stop.set()
        t.join()
    assert during >= 20, f"the ticker ran {during} times during a 1.5 s call: the GIL was held"


def test_two_clients_sync_two_vms_in_parallel_threads(dvmenv, sandbox):
    dvmenv.recipe("mark", MARK)
    dvmenv.vm("one", VM)
    dvmenv.vm("two", VM)
    # Both syncs must be inside their recipe at the same time, or the barrier breaks (and its
    # BrokenBarrierError, raised in the callback, fails the sync).
    barrier = threading.Barrier(2, timeout=60)
    results, errors, callback_threads = {}, {}, {}

    def run(name):
        def on_event(e):
            assert e.vm == name
            if e.kind == dvm.EventKind.RECIPE_STARTED:
                callback_threads[name] = threading.get_ident()
                barrier.wait()

        try:
            results[name] = dvmenv.client().sync(name, secrets={"WHO": name.encode()}, on_event=on_event)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors[name] = e

    threads = [threading.Thread(target=run, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results) == ["one", "two"]
    for name, r in results.items():
        assert r.vm == name and r.created and [t.name for t in r.recipes] == ["mark"]
        assert dvmenv.guest(name, f"cat /home/{GUEST_USER}/who") == name
    assert callback_threads["one"] != callback_threads["two"]


def test_sync_all_events_from_worker_threads(dvmenv, sandbox):
    dvmenv.recipe("mark", 'echo "marking $DVM_NAME"\n')
    for name in ("a", "b", "c"):
        dvmenv.vm(name, VM)
    dvmenv.vm("d", 'baseline = false\nrecipes = ["nosuchrecipe"]\n')  # fails validation
    events = []
    threads = set()
    lock_free = []

    def on_event(e):
        events.append(e)
        threads.add(threading.get_ident())
        # one at a time: nobody else is inside the callback
        lock_free.append(not getattr(on_event, "busy", False))
        on_event.busy = True
        time.sleep(0.001)
        on_event.busy = False

    result = dvmenv.client().sync_all(jobs=2, on_event=on_event)
    assert isinstance(result, dvm.SyncAllResult)
    assert (result.ok, result.failed, len(result)) == (3, 1, 4)
    assert [o.vm for o in result] == ["a", "b", "c", "d"]
    assert all(o.ok and o.result.recipes[0].name == "mark" for o in result.outcomes[:3])
    bad = result.outcomes[3]
    assert not bad.ok and bad.result is None and bad.error_code == "config" and "nosuchrecipe" in bad.message
    for name in ("a", "b", "c"):
        assert any(e.kind == "recipe_finished" and e.vm == name and e.name == "mark" for e in events)
        assert any(e.kind == "output" and e.vm == name and e.message == f"marking {name}" for e in events)
    finished = [e for e in events if e.kind == dvm.EventKind.SYNC_FINISHED]
    assert sorted(e.vm for e in finished) == ["a", "b", "c", "d"]
    assert len(threads) >= 2 and all(lock_free)
    assert threading.get_ident() not in threads or len(threads) > 1


def test_sync_all_names_and_callback_exception(dvmenv, sandbox):
    dvmenv.recipe("mark", "true\n")
    for name in ("a", "b"):
        dvmenv.vm(name, VM)
    result = dvmenv.client().sync_all(names=["b"])
    assert [o.vm for o in result] == ["b"] and result.ok == 1
    assert [v.name for v in dvmenv.client().list() if v.exists] == ["b"]

    class Boom(Exception):
        pass

    def on_event(e):
        if e.kind == dvm.EventKind.RECIPE_STARTED:
            raise Boom(e.vm)

    try:
        dvmenv.client().sync_all(jobs=2, on_event=on_event)
    except Boom:
        pass
    else:
        raise AssertionError("the callback's exception was lost")
    assert dvmenv.sim.wait_no_processes(0) != []  # the VMs still run; only the calls were stopped


def test_sync_all_gives_each_vm_only_its_own_secrets(dvmenv, sandbox):
    dvmenv.recipe("mark", MARK)
    dvmenv.vm("one", VM + 'secrets = ["WHO"]\n')
    dvmenv.vm("two", VM + 'secrets = ["WHO"]\n')
    client = dvmenv.client()
    calls_before = len(dvmenv.sim.calls())
    with pytest.raises(dvm.UsageError, match='"three", which is not among the VMs synced'):
        client.sync_all(names=["one", "two"], secrets={"one": {"WHO": "x"}, "three": {"WHO": "y"}})
    assert len(dvmenv.sim.calls()) == calls_before  # refused before any limactl call

    result = client.sync_all(jobs=2, secrets={"one": {"WHO": "first"}, "two": {"WHO": b"second"}})
    assert (result.ok, result.failed) == (2, 0)
    assert dvmenv.guest("one", f"cat /home/{GUEST_USER}/who") == "first"
    assert dvmenv.guest("two", f"cat /home/{GUEST_USER}/who") == "second"
    for c in dvmenv.sim.calls():
        assert not any("first" in a or "second" in a for a in c["argv"])
