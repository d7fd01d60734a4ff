"""A light scheduler: what stays (and why), read from installed files, never guessed."""

from __future__ import annotations

import textwrap

from dockyard.cluster.imports import module_imports
from dockyard.cluster.light import ESSENTIAL, Scan, select
from dockyard.lock.model import Lock, LockedPackage, Target


def test_module_level_imports_only(tmp_path):
    pkg = tmp_path / "proj"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent("""\
        import os, numpy.linalg
        from typing import TYPE_CHECKING
        from . import sub
        from .sub import thing
        try:
            import ujson as json
        except ImportError:
            import json
        if TYPE_CHECKING:
            import pandas
        class C:
            import xarray
            def m(self):
                import scipy
        def f():
            import humanize
        with open(__file__):
            from toolz import curry
        """))
    (pkg / "sub" / "__init__.py").write_text("import proj\nfrom zarr import open\n")
    (pkg / "sub" / "broken.py").write_text("def (:\n")
    found = module_imports([str(tmp_path)], ["proj"])
    assert set(found) == {"os", "numpy", "typing", "ujson", "json", "xarray", "toolz", "zarr"}
    assert found["numpy"] == [f"{pkg}/__init__.py:1"]


def _pkg(name, depends=(), owner="pypi", provides=()):
    return LockedPackage(name, "1", owner, "", "r", depends=tuple(depends),
                         provides=tuple(provides))


def test_select_keeps_what_is_safe_and_says_why():
    lock = Lock("x", Target(python="3.12"), packages=(
        _pkg("python", owner="conda"),
        _pkg("dask", ["toolz", "cloudpickle>=3"]), _pkg("distributed", ["dask", "tornado"]),
        _pkg("toolz"), _pkg("cloudpickle"), _pkg("tornado"),
        _pkg("msgpack-python", owner="conda", provides=["msgpack"], depends=["python >=3.12"]),
        _pkg("lz4"),
        _pkg("xarray", ["numpy", "pandas"]), _pkg("pandas", ["numpy"]),
        _pkg("numpy", owner="conda", provides=["numpy"], depends=["libblas"]),
        _pkg("libblas", owner="conda"),
        _pkg("ipykernel", ["tornado", "pyzmq"]), _pkg("pyzmq"), _pkg("humanize"),
    ))
    scan = Scan(modules={"xarray": "xarray", "toolz": "toolz", "proj": "proj"},
                own=("proj",), imports={"xarray": ("/opt/dockyard/app/proj/io.py:3",),
                                        "os": ("/opt/dockyard/app/proj/__init__.py:1",)})
    sel = select(lock, scan)
    assert set(sel.kept) == {"python", "dask", "distributed", "toolz", "cloudpickle", "tornado",
                             "msgpack-python", "lz4", "xarray", "pandas", "numpy", "libblas"}
    assert sel.kept["xarray"] == "imported at module level (/opt/dockyard/app/proj/io.py:3)"
    assert sel.kept["libblas"] == "needed by numpy"
    assert sel.kept["msgpack-python"] == "every Dask scheduler needs it"
    assert [n for n, _ in sel.left_out] == ["humanize", "ipykernel", "pyzmq"]
    assert set(ESSENTIAL) <= {"python", "dask", "distributed", "cloudpickle", "msgpack",
                              "tornado", "toolz", "lz4"}
