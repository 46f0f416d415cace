"""c4 and fineweb: each rule (and each of C4's line filters, through the document signals it
changes) has a document that fails it alone and documents that pass."""

from __future__ import annotations

import pytest

from curate.errors import ConfigError
from curate.pipeline.registry import get_stage_class
from tests.heuristics_util import disabled, pseudo_words, reject, run, sentences, signals


def good_lines(n: int, seed: int = 0, per: int = 10) -> list[str]:
    return sentences(pseudo_words(n * per, seed), per)


GOOD_C4 = "\n".join(good_lines(6))


def test_good_document_passes_c4():
    s = signals("c4", GOOD_C4)
    assert s["reject"] == ""
    assert s == {"lines": 6, "terminal_punct_ratio": 1.0, "javascript_lines": 0, "policy_lines": 0,
                 "kept_lines": 6, "kept_line_ratio": 1.0, "sentences": 6, "lorem_ipsum": False,
                 "curly_bracket": False, "reject": ""}


C4_CASES = {
    # rule: (failing document, parameters that switch the rule off)
    "lorem_ipsum": (GOOD_C4 + "\nLorem ipsum dolor sit amet, consectetur adipiscing elit.", {"reject_lorem_ipsum": False}),
    "curly_bracket": (GOOD_C4 + "\nThe function returns {value} to its caller.", {"reject_curly_bracket": False}),
    "sentences": ("\n".join(good_lines(4)), disabled("c4", "sentences")),
}


@pytest.mark.parametrize("rule", list(C4_CASES))
def test_each_c4_rule_fails_alone(rule):
    text, off = C4_CASES[rule]
    assert reject("c4", text) == rule
    assert reject("c4", text, **off) == ""


def test_kept_line_ratio_is_off_by_default_and_rejects_when_set():
    text = GOOD_C4 + "\n" + "\n".join(["Home About Contact"] * 10)
    s = signals("c4", text)
    assert s["reject"] == "" and s["kept_line_ratio"] == pytest.approx(6 / 16)
    assert reject("c4", text, min_kept_line_ratio=0.5) == "kept_line_ratio"
    assert reject("c4", GOOD_C4, min_kept_line_ratio=0.5) == ""


FOUR = "\n".join(good_lines(4))  # one sentence short of C4's minimum of five

# C4's line filters: each drops two lines from a 6-line page, leaving 4 sentences (too few);
# switching the line filter off keeps them.
LINE_FILTERS = {
    "no terminal punctuation": (FOUR + "\nThis line has no end mark\nNor does this one here",
                                {"filter_no_terminal_punct": False}),
    "ellipsis end": (FOUR + "\nThis line trails off into...\nAnd so does this one...",
                     {"filter_no_terminal_punct": False}),
    "too few words": (FOUR + "\nYes indeed.\nNo way!", {"min_words_per_line": 2}),
    "javascript": (FOUR + "\nPlease enable JavaScript to view the comments.\nJavascript is required here.",
                   {"filter_javascript": False}),
    "policy": (FOUR + "\nThis site uses cookies to improve your experience.\nRead our privacy policy before you go.",
               {"filter_policy": False}),
    "long word": (FOUR + "\n" + "x" * 1001 + " is a very long word.\nAnd " + "y" * 1200 + " is longer.",
                  {"max_word_length": None}),
}


@pytest.mark.parametrize("case", list(LINE_FILTERS))
def test_each_c4_line_filter_drops_its_lines(case):
    text, off = LINE_FILTERS[case]
    s = signals("c4", text)
    assert s["lines"] == 6 and s["kept_lines"] == 4 and s["reject"] == "sentences"
    kept = signals("c4", text, **off)
    assert kept["kept_lines"] == 6 and kept["reject"] == ""


def test_c4_counts_javascript_and_policy_lines():
    s = signals("c4", LINE_FILTERS["javascript"][0])
    assert s["javascript_lines"] == 2 and s["policy_lines"] == 0
    s = signals("c4", LINE_FILTERS["policy"][0])
    assert s["policy_lines"] == 2 and s["javascript_lines"] == 0


def test_c4_citations_do_not_hide_terminal_punctuation():
    text = FOUR + "\nThe river is long and wide.[1]\nIt flows to the sea.[citation needed]"
    assert signals("c4", text)["kept_lines"] == 6
    assert signals("c4", text, remove_citations=False)["kept_lines"] == 4


def test_c4_sentence_count_and_curly_bracket_only_on_surviving_lines():
    assert signals("c4", "One sentence is here. Two sentences are here! Is this the third?")["sentences"] == 3
    # a brace on a line that C4 drops anyway (no end mark) does not reject the page (TFDS c4_utils)
    assert signals("c4", GOOD_C4 + "\nint main() {")["reject"] == ""


# ----------------------------------------------------------------------------- fineweb


GOOD_FW = "\n".join(good_lines(8))


def test_good_document_passes_fineweb():
    s = signals("fineweb", GOOD_FW)
    assert s["reject"] == ""
    assert s["lines"] == 8 and s["line_punct_ratio"] == 1.0 and s["short_line_ratio"] == 0.0
    assert s["dup_line_char_ratio"] == 0.0
    assert s["list_ratio"] == pytest.approx(7 / (80 + 8))


FW_CASES = {
    "empty": " \n \n",
    "line_punct_ratio": "\n".join(s[:-1] for s in good_lines(8)),
    "short_line_ratio": "\n".join(good_lines(2) + good_lines(6, seed=1, per=3)),
    "dup_line_char_ratio": "\n".join(good_lines(8) + good_lines(1)),
    # one 32-letter word per line: long lines, but a newline for every two tokens
    "list_ratio": "\n".join(w.capitalize() + "." for w in pseudo_words(8, 0, (16, 16))),
}


@pytest.mark.parametrize("rule", list(FW_CASES))
def test_each_fineweb_rule_fails_alone(rule):
    text = FW_CASES[rule]
    assert reject("fineweb", text) == rule
    assert reject("fineweb", text, **disabled("fineweb", rule)) == ""


def test_fineweb_line_punct_exclude_zero_and_custom_stop_chars():
    text = FW_CASES["line_punct_ratio"]
    assert reject("fineweb", text, line_punct_exclude_zero=True) == ""
    semicolons = "\n".join(s[:-1] + ";" for s in good_lines(8))
    assert reject("fineweb", semicolons) == "line_punct_ratio"
    assert reject("fineweb", semicolons, stop_chars=";") == ""


def test_fineweb_accepts_unicode_sentence_terminals():
    text = "\n".join(s[:-1] + end for s, end in zip(good_lines(4), ["。", "！", "؟", "।"]))
    assert signals("fineweb", text)["line_punct_ratio"] == 1.0


def test_fineweb_ignores_blank_lines():
    spaced = GOOD_FW.replace("\n", "\n\n  \n")
    assert signals("fineweb", spaced)["lines"] == 8
    assert signals("fineweb", spaced)["short_line_ratio"] == 0.0


def test_rule_sets_write_prefixed_columns_and_keep_every_row():
    t = run("fineweb", ["", GOOD_FW, "x"])
    assert t.num_rows == 3
    assert "fineweb_list_ratio" in t.column_names and "fineweb_reject" in t.column_names
    assert "reject_reason" not in t.column_names


def test_c4_parameters_are_checked():
    with pytest.raises(ConfigError, match="min_sentences"):
        get_stage_class("c4")(min_sentences=-1)
    with pytest.raises(ConfigError, match="expects bool"):
        get_stage_class("c4")(filter_javascript="yes")
