"""What mypy must infer from the dvm package's annotations. Never run: `mypy --strict` checks it
(ctest python.mypy), and each assert_type fails the check when an overload or a type drifts.
"""

from typing import List, Union, assert_type

import dvm


def exec_results(client: dvm.Client, text: bool) -> None:
    assert_type(client.exec("app", ["true"]), dvm.ExecResult[str])
    assert_type(client.exec("app", ["true"]).stdout, str)
    assert_type(client.exec("app", ["true"], text=True).stderr, str)
    assert_type(client.exec("app", ["true"], text=False), dvm.ExecResult[bytes])
    assert_type(client.exec("app", ["cat"], b"data", text=False).stdout, bytes)
    assert_type(client.exec("app", ["true"], text=text), Union[dvm.ExecResult[str], dvm.ExecResult[bytes]])
    assert_type(client.exec("app", ["false"]).check(), dvm.ExecResult[str])
    assert_type(client.logs("app").output, str)
    assert_type(client.logs("app", text=False).output, bytes)


def shapes(client: dvm.Client) -> None:
    assert_type(client.list(), List[dvm.VmStatus])
    assert_type(client.status("app"), dvm.VmStatus)
    assert_type(client.start("app"), dvm.StartResult)
    assert_type(client.restart("app").started, bool)
    assert_type(client.ssh_config("app"), str)
    assert_type(client.sync("app", restart=True), dvm.SyncResult)
    assert_type(client.sync_all(names=["app"], restart=True), dvm.SyncAllResult)
    assert_type(dvm.templates(), List[dvm.InitTemplate])
    assert_type(dvm.EventKind("lima_progress"), dvm.EventKind)
    for outcome in client.sync_all():
        assert_type(outcome, dvm.SyncOutcome)
