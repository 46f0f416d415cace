"""Keep pandas and SciPy out of a process that does not use them (issue 34, start-up).

Two libraries curate depends on import a large optional package on their own the first time
they are used, whether or not the caller needs it:

- **pyarrow imports pandas** (0.13-0.16 s on an idle machine) the first time it converts a
  Python object: ``pa.array(list)``, ``pa.array(ndarray)``, ``pa.scalar(1)`` and every compute
  call given a Python scalar (``pc.equal(col, 1)``) ask its pandas shim whether the object is a
  pandas one (pyarrow/array.pxi ``_is_array_like`` and ``get_values``, pyarrow/pandas-shim.pxi
  ``_PandasAPIShim._check_import``). The shim tries the import once and remembers the answer;
  curate makes such calls in hundreds of places. A conversion that infers a type (no ``type=``)
  also imports pandas from C++, once, to recognise its NA and NaT objects (arrow/python/helpers.cc
  ``InitPandasStaticData``). :func:`answer_pandas_probe` makes both ask once while pandas is
  hidden, so they record "no pandas", and puts pandas back at once: if anything imports pandas
  afterwards (a plugin stage), a hook asks the shim again through its raising path
  (``_check_import(raise_=True)`` retries the import when the first try found no pandas), so
  Series, DataFrames and ``to_pandas()`` convert as usual from then on. What stays off in that
  process: pandas' ``pd.NA`` / ``pd.NaT`` objects inside a plain Python list are not recognised by
  ``pa.array`` (the C++ side does not ask again). Only the ``curate`` command and its local workers
  do this (the Python API leaves the caller's process alone); in a process where pandas is
  imported already, nothing is done.
- **numba imports scipy.linalg** (0.18 s idle) when its CPU target first loads its registries,
  on the first compile or cache load of any kernel: numba/core/cpu.py
  ``CPUContext.load_additional_registries`` imports ``numba.np.arraymath``, whose module-level
  ``_HAVE_BLAS = _check_blas()`` (numba/np/arraymath.py) calls ``numba.np.linalg.ensure_blas()``,
  which imports ``scipy.linalg.cython_blas`` (numba/np/linalg.py); ``import numba`` itself imports
  the top-level ``scipy`` package for a version check (numba/__init__.py,
  ``_ensure_critical_deps``). numba has no setting for either. :func:`import_numba` imports numba
  and ``numba.np.arraymath`` while SciPy is hidden (when it is not imported already): numba then
  records no BLAS for ``np.correlate`` / ``np.convolve``, which use its own loop instead of BLAS
  ``dot`` (numba/np/arraymath.py, ``_HAVE_BLAS``; curate's kernels use neither); numba's linear
  algebra (``np.dot``, ``np.linalg``) still works, because each of its implementations calls
  ``ensure_blas()`` again when it compiles, which then imports SciPy.
- **numba imports cffi** (and with it pycparser, 0.05 s idle) in the same target initialisation:
  numba/core/typing/context.py ``load_additional_registries`` imports
  ``numba.core.typing.cffi_utils``, which makes a ``cffi.FFI()`` at import so that kernels may call
  cffi functions. :func:`import_numba` imports that module with cffi hidden too: numba then
  records no cffi support (``SUPPORTED = False``), which no curate kernel uses.

Hiding a module is a meta-path finder that raises ``ModuleNotFoundError`` for it (and its
submodules) while the ``with`` block runs; modules imported already are not affected.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any


class _Hide(importlib.abc.MetaPathFinder):
    """A finder that refuses `names` and their submodules."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.split(".", 1)[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} is hidden while curate imports what does not need it",
                                      name=fullname)
        return None


@contextmanager
def hidden(*names: str) -> Iterator[None]:
    """Imports of `names` (top-level packages not imported yet) fail inside the block."""
    finder = _Hide(tuple(n for n in names if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs `then()` once, right after the module `name` has been imported by anyone."""

    def __init__(self, name: str, then: Any) -> None:
        self.name, self.then = name, then

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module, then = spec.loader.exec_module, self.then

        def exec_then(module: ModuleType) -> None:
            exec_module(module)
            then()

        spec.loader.exec_module = exec_then  # type: ignore[method-assign]
        return spec


def answer_pandas_probe() -> None:
    """Let pyarrow's pandas shim find no pandas (now, or as soon as pyarrow is imported, so that a
    command that never reads a table does not import pyarrow for this), and find it again once
    pandas is imported."""
    if "pandas" in sys.modules or any(isinstance(f, _AfterImport) for f in sys.meta_path):
        return
    if "pyarrow" not in sys.modules:
        sys.meta_path.insert(0, _AfterImport("pyarrow", answer_pandas_probe))
        return
    import pyarrow as pa
    import pyarrow.lib

    shim = pyarrow.lib._pandas_api
    with hidden("pandas"):
        shim.have_pandas  # noqa: B018 - the shim's probe: it tries `import pandas` once, here
        pa.array([0])  # the C++ converter's: type inference loads pandas' NA and NaT once, here
    # the raising path of the shim imports pandas again (and records it) if the probe found none
    sys.meta_path.insert(0, _AfterImport("pandas", lambda: shim.version))


def import_numba() -> ModuleType:
    """numba, with its CPU target's registries imported while SciPy is hidden (see above)."""
    if "numba.np.arraymath" in sys.modules:
        return sys.modules["numba"]
    with hidden("scipy", "cffi"):
        import numba
        import numba.core.typing.cffi_utils  # noqa: F401 - its cffi probe runs now, without cffi
        import numba.np.arraymath  # noqa: F401 - its _HAVE_BLAS probe runs now, without SciPy
    return numba
