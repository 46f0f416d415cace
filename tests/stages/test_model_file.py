"""The structural check of fastText model files: real models trained here (a supervised .bin, a pruned
.ftz with quantized norms, an .ftz with a quantized output matrix), then cut, patched and padded."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from curate import schema
from curate.classifiers.fasttext import Classifier, TrainParams, save, train
from curate.classifiers.model_file import MAGIC, ModelLayout, check_model_file
from curate.errors import ConfigError
from tests.conftest import write_parquet
from tests.in_process import curate

# Byte offsets of header fields, from the layout: magic, version (int32 each), then the argument block
# (dim at 8, bucket at 40, 56 bytes in all), then the dictionary header (size, nwords, nlabels as int32).
DIM_AT, BUCKET_AT, DICT_AT = 8, 40, 64


def _write_lines(path: Path, n_labels: int, n: int, seed: int) -> Path:
    """`__label__` lines whose words say the label, over a vocabulary of a few hundred words."""
    rng = np.random.default_rng(seed)
    with path.open("w") as f:
        for i in range(n):
            label = i % n_labels
            words = [f"w{rng.integers(0, 300)}" for _ in range(8)] + [f"tag{label}"] * 2
            f.write(f"__label__l{label} {' '.join(words)}\n")
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """name -> an intact model file: dense .bin, pruned .ftz with quantized norms, .ftz with quantized output."""
    root = tmp_path_factory.mktemp("models")
    two = _write_lines(root / "two.txt", n_labels=2, n=400, seed=0)
    params = TrainParams(epochs=2, dim=8, bucket=5000)
    model = train(two, params)
    save(model, root / "quality.bin")
    # cutoff prunes the input matrix to 300 rows (the quantizer needs at least 256).
    model.quantize(input=str(two), qnorm=True, retrain=False, cutoff=300)
    save(model, root / "pruned.ftz")
    # A quantized output matrix needs >= 256 rows, i.e. labels.
    many = _write_lines(root / "many.txt", n_labels=260, n=600, seed=1)
    wide = train(many, TrainParams(epochs=1, dim=8, bucket=0, word_ngrams=1))
    wide.quantize(input=str(many), qout=True, retrain=False)
    save(wide, root / "qout.ftz")
    return {p.name: p for p in (root / "quality.bin", root / "pruned.ftz", root / "qout.ftz")}


def _variant(src: Path, dest_dir: Path, data: bytes) -> Path:
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / src.name
    out.write_bytes(data)
    return out


def _rejects(path: Path, pattern: str) -> None:
    """Both the check and the load refuse `path` with a ConfigError naming it."""
    for call in (check_model_file, Classifier.load):
        with pytest.raises(ConfigError, match=pattern) as info:
            call(path)
        assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("name", ["quality.bin", "pruned.ftz", "qout.ftz"])
def test_intact_models_pass_and_describe_themselves(models: dict[str, Path], name: str) -> None:
    path = models[name]
    layout = check_model_file(path)
    clf = Classifier.load(path)
    model = clf.model
    assert isinstance(layout, ModelLayout)
    assert layout.size == path.stat().st_size
    assert layout.quantized == model.is_quantized() == name.endswith(".ftz")
    assert layout.dim == model.get_dimension() == 8
    assert layout.nlabels == len(model.get_labels())
    assert layout.nwords == len(model.get_words())
    assert layout.output_rows == layout.nlabels  # supervised
    assert layout.input_rows == {"quality.bin": layout.nwords + 5000, "pruned.ftz": 300,
                                 "qout.ftz": layout.nwords}[name]


@pytest.mark.parametrize("name", ["quality.bin", "pruned.ftz", "qout.ftz"])
@pytest.mark.parametrize("cut", ["10 short", "half", "1000 bytes", "4 bytes", "header only", "header and args", "empty"])
def test_truncated_models_are_refused(models: dict[str, Path], tmp_path: Path, name: str, cut: str) -> None:
    data = models[name].read_bytes()
    keep = {"10 short": len(data) - 10, "half": len(data) // 2, "1000 bytes": 1000, "4 bytes": 4,
            "header only": 8, "header and args": 64, "empty": 0}[cut]
    _rejects(_variant(models[name], tmp_path / "models", data[:keep]), "truncated: .* needs [0-9,]+ bytes, "
             "[0-9,]+ remain|truncated: the dictionary has")


@pytest.mark.parametrize("name", ["quality.bin", "pruned.ftz"])
def test_every_prefix_is_refused(models: dict[str, Path], tmp_path: Path, name: str) -> None:
    data = models[name].read_bytes()
    n = len(data)
    # Every cut in the header, the dictionary's start and the last bytes, and ~150 in between.
    for keep in sorted(set(range(0, 200)) | set(range(0, n, n // 150)) | set(range(n - 24, n))):
        path = _variant(models[name], tmp_path / f"cut{keep}", data[:keep])
        with pytest.raises(ConfigError, match="truncated"):
            check_model_file(path)
        shutil.rmtree(path.parent)


def _patched(src: Path, dest: Path, offset: int, fmt: str, value: int) -> Path:
    data = bytearray(src.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    return _variant(src, dest, bytes(data))


def test_flipped_size_fields_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    src = models["quality.bin"]
    layout = check_model_file(src)
    # The dense input matrix header (int64 rows, cols) sits before its floats, the qout flag and the
    # output matrix (16 bytes of header + its floats).
    output_bytes = 16 + 4 * layout.output_rows * layout.dim
    input_at = layout.size - output_bytes - 1 - (16 + 4 * layout.input_rows * layout.dim)
    output_at = layout.size - output_bytes
    cases = [
        (0, "<i", MAGIC + 1, "not a fastText model"),
        (4, "<i", 13, "unsupported fastText format version 13"),
        (DIM_AT, "<i", 0, "corrupt arguments: dim is 0"),
        (DIM_AT, "<i", 9, r"corrupt: the input matrix is [0-9,]+ x 8, .* imply [0-9,]+ x 9"),
        (BUCKET_AT, "<i", 4999, r"the input matrix is [0-9,]+ x 8, the arguments and dictionary imply"),
        (DICT_AT, "<i", layout.nwords + layout.nlabels + 1, "corrupt dictionary header"),
        (DICT_AT, "<i", 2**31 - 1, "corrupt dictionary header"),
        (DICT_AT + 8, "<i", layout.nlabels + 1, "corrupt dictionary header"),
        (input_at, "<q", layout.input_rows + 1, f"the input matrix is {layout.input_rows + 1:,} x 8"),
        (input_at, "<q", 2**40, "the input matrix is 1,099,511,627,776 x 8"),
        (input_at + 8, "<q", -1, "the input matrix is [0-9,]+ x -1"),
        (output_at, "<q", 3, "the output matrix is 3 x 8, the arguments and dictionary imply 2 x 8"),
        (input_at - 1, "<B", 7, "the input quantization flag is 7, not 0 or 1"),
        (output_at - 1, "<B", 2, "the output quantization flag is 2, not 0 or 1"),
    ]
    for i, (offset, fmt, value, pattern) in enumerate(cases):
        _rejects(_patched(src, tmp_path / f"p{i}", offset, fmt, value), pattern)
    # Consistent header counts that do not match the entries: one more word and one fewer label.
    data = bytearray(src.read_bytes())
    struct.pack_into("<2i", data, DICT_AT + 4, layout.nwords + 1, layout.nlabels - 1)
    _rejects(_variant(src, tmp_path / "entries", bytes(data)), r"entries hold [0-9,]+ words, 2 labels")


def test_flipped_quantizer_fields_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    src = models["qout.ftz"]
    layout = check_model_file(src)
    # The quantized output matrix is last: qnorm flag, int64 m, n, int32 codesize, the codes, then its
    # product quantizer (int32 dim, nsubq, dsub, lastdsub, 256 * dim float32 centroids); dsub is 2.
    nsubq = layout.dim // 2
    pq_at = layout.size - 4 * 256 * layout.dim - 16
    codes_at = pq_at - layout.output_rows * nsubq
    header_at = codes_at - 21
    cases = [
        (pq_at, "<i", layout.dim + 1, "the product quantizer of the output matrix has dim 9"),
        (pq_at + 8, "<i", 3, "sub-quantizers of 3"),
        (header_at + 17, "<i", layout.output_rows * nsubq - 1, "the output matrix has [0-9,]+ codes|quantizer"),
        (header_at + 17, "<i", 2**31 - 1, "truncated: the code table of the output matrix needs"),
        (header_at, "<B", 5, "the norm quantization flag of the output matrix is 5"),
        (header_at + 1, "<q", 7, "the output matrix is 7 x 8"),
    ]
    for i, (offset, fmt, value, pattern) in enumerate(cases):
        _rejects(_patched(src, tmp_path / f"q{i}", offset, fmt, value), pattern)


@pytest.mark.parametrize("name", ["quality.bin", "pruned.ftz", "qout.ftz"])
def test_trailing_garbage_is_refused(models: dict[str, Path], tmp_path: Path, name: str) -> None:
    data = models[name].read_bytes()
    _rejects(_variant(models[name], tmp_path / "g", data + b"\0" * 3),
             f"corrupt: 3 bytes after the output matrix \\(the model ends at byte {len(data):,}")
    _rejects(_variant(models[name], tmp_path / "g2", data + data), "bytes after the output matrix")


def test_classify_verb_refuses_a_truncated_model_before_any_work(models: dict[str, Path], tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {schema.ID: ["a", "b"], schema.TEXT: ["w1 w2 tag0", "tag1 w3"]})
    data = models["quality.bin"].read_bytes()
    out = tmp_path / "out"
    for keep in (len(data) - 10, 1000, len(data) // 2):
        model = _variant(models["quality.bin"], tmp_path / "models", data[:keep])
        r = curate("classify", "--input", str(tmp_path / "in"),
                            "--output", str(out), "--model", str(model), "--column", "quality", "--workers", "1")
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and str(model) in lines[0] and "truncated" in lines[0], r.stderr
        assert not out.exists() or not any(out.iterdir())


def test_python_and_compiled_dictionary_walks_agree() -> None:
    import numpy as np

    from curate.classifiers import model_file

    rng = np.random.default_rng(0)
    entries = []
    for i in range(3000):
        word = "".join(rng.choice(list("abcdefgh"), size=int(rng.integers(1, 12)))).encode()
        entries.append(word + b"\0" + int(i % 7).to_bytes(8, "little") + bytes([i % 2]))  # counts hold NULs
    buf = b"HEADER" + b"".join(entries)
    for cut in (len(buf), len(buf) - 5, len(buf) // 2):
        data = np.frombuffer(buf[:cut], dtype=np.uint8)
        py = model_file._entry_ends(data, 6, 3000)
        compiled = model_file._entry_ends_compiled()(data, 6, 3000)
        assert py.tolist() == compiled.tolist()
        assert len(py) == (3000 if cut == len(buf) else len(py))
