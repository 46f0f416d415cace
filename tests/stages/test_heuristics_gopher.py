"""gopher_quality and gopher_repetition: each rule has a document that fails it (and, where the
rules allow, nothing else) and documents that pass it."""

from __future__ import annotations

import pytest

from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from curate.stages.heuristics.gopher_repetition import DUP_NGRAM_MAX, TOP_NGRAM_MAX
from tests.heuristics_util import disabled, pseudo_words, reject, run, sentences, signals

STOP = ["the", "of", "and", "to", "with", "that", "have", "be"]


def prose(n_sentences: int, seed: int = 0, per: int = 10) -> list[str]:
    """Sentences of `per` words: pseudo-words plus two Gopher stop words each."""
    words = pseudo_words(n_sentences * (per - 2), seed)
    out = []
    for s in range(n_sentences):
        chunk = words[s * (per - 2):(s + 1) * (per - 2)]
        ws = [chunk[0], STOP[s % 8], *chunk[1:4], STOP[(s + 3) % 8], *chunk[4:]]
        out.append(" ".join([ws[0].capitalize(), *ws[1:]]) + ".")
    return out


def lines(sents: list[str], per_line: int = 3) -> str:
    return "\n".join(" ".join(sents[i:i + per_line]) for i in range(0, len(sents), per_line))


GOOD_QUALITY = lines(prose(9))

QUALITY_CASES = {
    "word_count": [
        lines(prose(3)),  # 30 words < 50
        lines(prose(10_100)),  # 101,000 words > 100,000
    ],
    "mean_word_length": [
        " ".join(["the cat and the dog sat on a mat to be with it."] * 6),  # mean 2.6 < 3
        lines([" ".join(pseudo_words(9, 5 + i, (5, 6))) + " and the " + " ".join(pseudo_words(9, 50 + i, (5, 6)))
               + "." for i in range(5)]),  # mean 10.3 > 10
    ],
    "hash_ratio": [GOOD_QUALITY + "\n" + " ".join("#" + w for w in pseudo_words(14, 7))],
    "ellipsis_ratio": [lines([s[:-1].replace(" ", " ... ", 2) + "." for s in prose(9, per=14)])],
    "bullet_lines_ratio": ["\n".join("- " + s for s in prose(10)), "\n".join("• " + s for s in prose(10))],
    "ellipsis_lines_ratio": [
        "\n".join(s[:-1] + "..." if i % 2 else s for i, s in enumerate(prose(10))),
        "\n".join(s[:-1] + "…" if i % 2 else s for i, s in enumerate(prose(10))),
    ],
    "alpha_words_ratio": [
        lines([s[:-1] + " " + " ".join(str(1000 + 7 * i + j) for j in range(4)) + "." for i, s in enumerate(prose(9))])
    ],
    "stop_words": [lines(sentences(pseudo_words(90, 9)))],
}


def test_good_document_passes_every_quality_rule():
    s = signals("gopher_quality", GOOD_QUALITY)
    assert s["reject"] == ""
    assert s["word_count"] == 90 and s["stop_words"] == 8
    assert s["mean_word_length"] == pytest.approx(sum(len(w.strip(".")) for w in GOOD_QUALITY.split()) / 90)


@pytest.mark.parametrize("rule", list(QUALITY_CASES))
def test_each_quality_rule_fails_alone(rule):
    for text in QUALITY_CASES[rule]:
        assert reject("gopher_quality", text) == rule
        # the same document passes once this rule's bounds are switched off: no other rule fails it
        assert reject("gopher_quality", text, **disabled("gopher_quality", rule)) == ""


def test_quality_boundaries_are_inclusive():
    s = signals("gopher_quality", GOOD_QUALITY)
    assert reject("gopher_quality", GOOD_QUALITY, min_words=s["word_count"]) == ""
    assert reject("gopher_quality", GOOD_QUALITY, min_words=s["word_count"] + 1) == "word_count"
    assert reject("gopher_quality", GOOD_QUALITY, min_alpha_words_ratio=s["alpha_words_ratio"]) == ""
    assert reject("gopher_quality", GOOD_QUALITY, min_stop_words=9) == "stop_words"


def test_quality_ratios_count_punctuation_tokens_as_words():
    # datatrove's definition: "#", "..." and "," are tokens, and count in every ratio's denominator
    s = signals("gopher_quality", "one two # three ... four, five")
    assert s["word_count"] == 5
    assert s["hash_ratio"] == pytest.approx(1 / 8)
    assert s["ellipsis_ratio"] == pytest.approx(1 / 8)
    assert s["alpha_words_ratio"] == pytest.approx(5 / 8)


def test_stop_words_match_case_insensitively_and_are_configurable():
    text = "The cat sat. THAT was all."
    assert signals("gopher_quality", text)["stop_words"] == 2
    assert signals("gopher_quality", text, stop_words=["cat", "was", "dog"])["stop_words"] == 2


def test_first_failed_rule_is_named_in_rule_order():
    # too short AND no stop words: word_count comes first
    assert reject("gopher_quality", "alpha beta gamma") == "word_count"


def test_empty_and_null_text_do_not_crash():
    t = run("gopher_quality", ["", "   "])
    assert t.column("gopher_quality_reject").to_pylist() == ["word_count", "word_count"]
    assert t.column("gopher_quality_mean_word_length").null_count == 2


def test_bad_parameters_are_config_errors():
    cls = get_stage_class("gopher_quality")
    with pytest.raises(ConfigError, match="max_bullet_lines_ratio"):
        cls(max_bullet_lines_ratio=2.0)
    with pytest.raises(ConfigError, match="unknown parameter"):
        cls(min_word=3)


# ----------------------------------------------------------------------------- repetition


def unique_lines(n_lines: int, seed: int, per_line: int = 12) -> list[str]:
    return sentences(pseudo_words(n_lines * per_line, seed), per_line)


GOOD_REPETITION = "\n\n".join("\n".join(unique_lines(3, seed)) for seed in range(6))


def _interleave(unique: list[str], repeated: str, every: int = 1) -> str:
    out = []
    for i, line in enumerate(unique):
        out.append(line)
        if i % every == 0:
            out.append(repeated)
    return "\n".join(out)


def _para_dups() -> str:
    paragraphs = ["\n".join(unique_lines(3, seed)) for seed in range(10)]
    return "\n\n".join(paragraphs + ["Read more."] * 6)


WORD = 6  # pseudo-words of three syllables: every word has 6 characters


def _ngram_doc(n: int, kind: str, target: float, copies: int) -> str:
    """One line: `copies` copies of an `n`-word phrase spread through distinct filler words,
    sized so that the top (kind="top") or duplicated (kind="dup") n-gram character fraction
    is about `target`."""
    if kind == "top":
        chars = copies * (n * WORD + n - 1)  # the phrase joined by spaces, times its count
    else:
        chars = (copies - 1) * n * WORD  # words of every copy after the first
    total_words = round((chars / target + 1) / (WORD + 1))
    filler = pseudo_words(total_words - copies * n, seed=n, syllables=(3, 3))
    phrase = pseudo_words(n, seed=100 + n, syllables=(3, 3))
    step = len(filler) // (copies + 1)
    words: list[str] = []
    for i in range(copies):
        words += filler[i * step:(i + 1) * step] + phrase
    return " ".join(words + filler[copies * step:])


def _window(kind: str, n: int) -> float:
    """A fraction just above the n-gram rule's threshold and below the threshold of the rule
    for n - 1 (thresholds fall as n grows, and a repeated n-gram repeats its shorter n-grams)."""
    table = TOP_NGRAM_MAX if kind == "top" else DUP_NGRAM_MAX
    return (table[n] + table.get(n - 1, table[n] + 0.02)) / 2


# Rules whose failure implies another's: a repeated paragraph repeats its lines and n-grams, a
# repeated line repeats its n-grams. Their documents are checked with the implied rules off.
_LONG_NGRAMS = [f"dup_{n}gram_char_frac" for n in range(5, 11)]
REPETITION_CASES = {
    "dup_para_frac": (_para_dups(), []),
    "dup_para_char_frac": ("\n\n".join(["\n".join(unique_lines(3, s)) for s in (1, 2, 3)]
                                         + ["\n".join(unique_lines(2, 0, per_line=30))] * 2),
                           ["dup_line_char_frac", *_LONG_NGRAMS]),
    "dup_line_frac": (_interleave(unique_lines(10, 1), "Home"), []),
    "dup_line_char_frac": ("\n".join(unique_lines(4, 2) + unique_lines(1, 3, per_line=30) * 2), _LONG_NGRAMS),
    **{f"top_{n}gram_char_frac": (_ngram_doc(n, "top", _window("top", n), 12), []) for n in (2, 3, 4)},
    # many copies, so that the repeated phrase's 4-grams stay under the top-4-gram threshold
    **{f"dup_{n}gram_char_frac": (_ngram_doc(n, "dup", _window("dup", n), 20), []) for n in range(5, 11)},
}


def test_good_document_passes_every_repetition_rule():
    s = signals("gopher_repetition", GOOD_REPETITION)
    assert s["reject"] == ""
    assert s["dup_para_frac"] == 0 and s["dup_line_frac"] == 0 and s["dup_5gram_char_frac"] == 0


@pytest.mark.parametrize("rule", list(REPETITION_CASES))
def test_each_repetition_rule_fails_alone(rule):
    text, implies = REPETITION_CASES[rule]
    off = {}
    for implied in implies:
        off.update(disabled("gopher_repetition", implied))
    assert reject("gopher_repetition", text, **off) == rule
    assert reject("gopher_repetition", text, **off, **disabled("gopher_repetition", rule)) == ""


def test_repetition_signals_follow_the_definitions():
    text = "a b\n\na b\nc"
    s = signals("gopher_repetition", text)
    # paragraphs ["a b", "a b\nc"]: no repeat; lines ["a b", "a b", "c"]: one repeat of 3 chars
    assert s["dup_para_frac"] == 0
    assert s["dup_line_frac"] == pytest.approx(1 / 3)
    assert s["dup_line_char_frac"] == pytest.approx(3 / len(text))
    # 2-grams (a b) (b a) (a b) (b c): "a b" twice, 3 characters each
    assert s["top_2gram_char_frac"] == pytest.approx(6 / len(text))
