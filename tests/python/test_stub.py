"""The stub python/dvm/_dvm.pyi describes the compiled module exactly: the same functions and
NativeClient methods, with the same parameter names in the same order (pybind11 writes each
signature as the first line of its docstring). mypy checks the package against the stub
(ctest python.mypy), so a stale stub would let it pass code that fails at run time."""

import ast
import os
import re

from dvm import _dvm

STUB = os.path.join(os.path.dirname(_dvm.__file__), "_dvm.pyi")


def stub_signatures():
    tree = ast.parse(open(STUB, encoding="utf-8").read())
    out = {}

    def params(fn):
        return [a.arg for a in fn.args.args if a.arg != "self"]

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = params(node)
        elif isinstance(node, ast.ClassDef) and node.name == "NativeClient":
            for fn in node.body:
                if isinstance(fn, ast.FunctionDef):
                    out["NativeClient." + fn.name] = params(fn)
    return out


def runtime_params(fn):
    first = fn.__doc__.splitlines()[0]
    inside = re.match(r"\w+\((.*)\) -> ", first).group(1)
    names = re.findall(r"(?:^|, )(\w+): ", inside)
    return [n for n in names if n != "self"]


def runtime_signatures():
    out = {}
    for name in dir(_dvm):
        value = getattr(_dvm, name)
        if callable(value) and not name.startswith("_") and name != "NativeClient":
            out[name] = runtime_params(value)
    for name in dir(_dvm.NativeClient):
        if not name.startswith("_") or name == "__init__":
            out["NativeClient." + name] = runtime_params(getattr(_dvm.NativeClient, name))
    return out


def test_the_stub_names_every_function_and_parameter_of_the_compiled_module():
    assert stub_signatures() == runtime_signatures()


def test_runtime_params_reads_pybind11_signatures():
    assert runtime_params(_dvm.parse_port_forward) == ["text", "default_ip"]
    assert runtime_params(_dvm.NativeClient.sync) == ["name", "secrets", "restart", "full", "recipes", "on_event"]
