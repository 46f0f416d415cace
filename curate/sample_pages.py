"""Generated web pages mixing the kinds of line that the cleaning stages act on.

Each page is prose sentences interleaved, at random, with lines that C4's line pass removes or
that make it drop the page (no end mark, an ellipsis, too few words, a very long word,
"javascript", a cookie notice, citation marks, "lorem ipsum", a curly bracket), a shared
boilerplate footer, and varied line breaks and surrounding whitespace. Tests and benchmarks
compare the stages against reference implementations on these pages.
"""

from __future__ import annotations

import numpy as np

_WORDS = ("the of and to in is was for on that with as by at from it an be this are which or "
          "river market village engine garden winter doctor museum letter harbour valley "
          "council bridge school record signal forest station library painter island").split()
FOOTER = "Copyright 2024 Example Media Group. All rights reserved."

_ODD_LINES = (
    "Home About Contact",
    "Read more about this topic...",
    "Yes.",
    "Please enable JavaScript to view the comments powered by our partner.",
    "This site uses cookies to improve your experience.",
    "By continuing you agree to our terms of use and privacy policy.",
    "See the full table for details [citation needed].",
    "The bridge opened in 1898.[1] It was rebuilt later.[2]",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit.",
    "The template uses {name} as a placeholder for the title.",
    "A line with a very long token " + "x" * 1200 + " inside it.",
    "“Quoted speech ends the line here.”",
    "Wait, is this the end of the line?",
    "   Indented sentence with trailing spaces here.   ",
    "",
)
_BREAKS = ("\n", "\n", "\n", "\r\n", "\n\n", "\u2028")


def sentence(rng: np.random.Generator, n_words: int) -> str:
    """A capitalised pseudo-sentence of `n_words` common words ending in a full stop."""
    words = rng.choice(_WORDS, size=n_words)
    return " ".join(words).capitalize() + rng.choice([".", ".", "!", "?"])


def c4_pages(n: int, seed: int = 0, odd_rate: float = 0.3) -> list[str]:
    """`n` pages of 3-12 lines; each line is odd (see module docstring) with probability `odd_rate`."""
    rng = np.random.default_rng(seed)
    pages = []
    for _ in range(n):
        parts = []
        for _ in range(int(rng.integers(3, 13))):
            if rng.random() < odd_rate:
                line = str(rng.choice(_ODD_LINES))
            else:
                line = " ".join(sentence(rng, int(rng.integers(3, 14))) for _ in range(int(rng.integers(1, 4))))
            parts.append(line)
            parts.append(str(rng.choice(_BREAKS)))
        if rng.random() < 0.3:
            parts.append(FOOTER)
        pages.append("".join(parts).rstrip("\n") if rng.random() < 0.5 else "".join(parts))
    return pages
