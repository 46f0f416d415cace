"""Deterministic synthetic web corpus with known truth: domains, quality tiers, planted duplicates.

Tests, benchmarks and the bundled ``sample_data/`` use it so every stage can be checked against
ground truth (``true_*`` columns). Text is built from word pools and sentence templates with
vectorized numpy + Arrow kernels, so a million documents take about a minute on one core.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import schema
from curate.errors import ConfigError

DOMAINS: tuple[str, ...] = ("news", "forum", "code", "legal", "recipes", "science")
QUALITIES: tuple[str, ...] = ("high", "medium", "low", "spam")
LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "ru", "zh")
FORMATS: tuple[str, ...] = ("parquet", "jsonl", "jsonl.gz")
KINDS: tuple[str, ...] = ("web", "reference")

DUP_ORIGINAL, DUP_EXACT, DUP_NEAR = "original", "exact", "near"

_DOMAIN_P = np.array([0.20, 0.18, 0.15, 0.12, 0.15, 0.20])
_QUALITY_P = np.array([0.30, 0.30, 0.25, 0.15])
_HIGH, _MEDIUM, _LOW, _SPAM = range(4)
# Share of unique (non-duplicated) web documents that are very short, or not in a Latin script.
_SHORT_RATE = 0.01
_NON_LATIN_RATE = 0.01
# Near copies: fraction of words edited, drawn uniformly from this range (the brief: 0.5%..10%).
_EDIT_RATE_RANGE = (0.005, 0.10)
# Copies per duplicate group: 1, 2 or 3 with these probabilities.
_COPIES_P = np.array([0.6, 0.25, 0.15])
_NEAR_MIN_WORDS = 150  # originals of near copies are long enough for MinHash
_CHUNK = 8192  # documents generated per vectorized step (independent of n_shards)
_DEFAULT_ROW_GROUP = 50_000

# --------------------------------------------------------------------------------------------
# Vocabulary. Common words first: slots draw index floor(u**skew * n), so early words are frequent.
# --------------------------------------------------------------------------------------------

_FUNCTION_WORDS = (
    "the of and to a in is that for it as with was on be by this are at from or have an which not "
    "but they has its were their can been more also when there all these than other into some "
    "would will may such after about between over only both most each through while during because"
).split()

_GENERAL_WORDS = (
    "time people year way day part number group system process place world area work life level point "
    "example result change problem question order case form line side state end fact kind home hand "
    "power price value rate range period role field source support effect interest service company "
    "team member family city country community information development experience approach plan policy "
    "program project table paper student user page set step type term size list name idea reason story "
    "history future water food light color sense space center street school office night morning week "
    "month hour minute small large new old good great important different early late possible public "
    "local general common simple recent major similar second final several many few high low long short "
    "clear main better likely often usually still already however generally finally quickly directly "
    "recently make take give find show use provide include follow consider describe allow continue "
    "create increase reduce remain require develop produce suggest explain improve expect offer build "
    "keep open start move help learn read write turn bring hold leave meet seem appear become careful "
    "quiet strong weak useful modern private personal current total available specific certain free "
    "full special easy hard real whole nearly almost rather quite perhaps together across toward "
    "beyond within around against among following previous various particular additional significant"
).split()

_DOMAIN_WORDS: dict[str, list[str]] = {
    "news": (
        "government minister election officials president parliament police statement spokesperson "
        "campaign vote voters protest economy inflation budget agency crisis reporters investigation "
        "announced confirmed Tuesday Wednesday Thursday Monday Friday weekend capital region mayor "
        "council senator coalition opposition diplomats summit negotiations sanctions border troops "
        "ceasefire residents authorities emergency interview press headlines correspondent lawmakers "
        "ministry cabinet referendum governor candidates polls turnout strike unions demonstrators "
        "refugees evacuation Berlin Madrid Nairobi Ottawa Lisbon Seoul Toronto Denver Garcia Okafor "
        "Lindqvist Moreau Tanaka Novak Brennan Haddad"
    ).split(),
    "forum": (
        "thanks anyone guys lol btw imo reply thread post posted quote edit update tried works worked "
        "fixed weird honestly actually pretty awesome recommend opinion setup upgrade bought console "
        "laptop headphones settings forum moderator newbie advice cheers same solution wondering "
        "somebody anybody suggestion favorite hobby guitar bike garden fishing camera lens mod patch "
        "game server lag firmware driver controller keyboard mouse monitor router warranty seller "
        "shipping review stock tbh yeah nope dunno bump subforum signature avatar rig overclock"
    ).split(),
    "code": (
        "function variable return array string integer loop class method object module import library "
        "compile compiler runtime exception error debug debugger pointer memory thread callback "
        "parameter argument index iterator recursion algorithm repository commit branch merge deploy "
        "test assertion interface struct null boolean syntax parser token query database schema "
        "endpoint request response json api framework config install package version dependency "
        "terminal script shell buffer cache hash stack queue heap vector lambda closure async await "
        "refactor benchmark get_value() parse_args() self.items --verbose config.yaml npm pip git "
        "stdout stderr segfault mutex"
    ).split(),
    "legal": (
        "court plaintiff defendant contract agreement clause liability statute jurisdiction appeal "
        "judgment tribunal counsel attorney hereby herein thereof pursuant provisions obligations "
        "breach damages injunction party parties tenant landlord lease warranty indemnify arbitration "
        "claimant respondent evidence testimony ruling precedent section subsection article regulation "
        "compliance licensee licensor termination notice consent negligence statutory enforceable "
        "amendment constitution verdict prosecution settlement filing motion dismissed granted "
        "whereas trustee estate property ownership affidavit deposition remedy covenant"
    ).split(),
    "recipes": (
        "flour sugar butter eggs salt pepper garlic onion oven bake simmer stir whisk chop dice slice "
        "minutes tablespoon teaspoon cup cups grams dough sauce pan skillet bowl mixture heat boil "
        "roast chicken beef tomato tomatoes cheese milk cream olive oil lemon juice rice pasta basil "
        "oregano cinnamon vanilla chocolate yeast knead serve garnish season taste crispy tender "
        "golden fresh delicious recipe ingredients servings dinner lunch breakfast salad soup bread "
        "cake cookies potatoes carrots spinach mushrooms ginger parsley thyme batter"
    ).split(),
    "science": (
        "hypothesis experiment data analysis sample samples measurement observed cells protein gene "
        "genes molecule molecular species temperature pressure energy particle particles quantum "
        "electron carbon oxygen reaction enzyme bacteria organism evolution climate atmosphere theory "
        "simulation statistical correlation variance laboratory researchers findings method methods "
        "results concentration membrane neurons brain galaxy stars orbit mass velocity frequency "
        "wavelength spectrum equation observations mechanism structure population ecosystem mutation "
        "sequence dna rna cell tissue signal detector isotope crystal polymer compound"
    ).split(),
}

_NUMBERS = "2 3 4 5 7 10 12 15 20 24 30 40 45 60 100 250 1998 2005 2012 2019 2021 30% 5.2 0.5".split()

# Sentence templates: F = function word, G = general word, D = domain word, # = number;
# anything else is a literal word. A trailing "?" makes the sentence a question.
_DOMAIN_TEMPLATES: dict[str, list[str]] = {
    "news": [
        "F D F D said F G D was F G F D",
        "officials said F D would G F D F # D",
        "according to F D F G D F D G F D",
        "F D announced on D that F G D had G",
        "the D F G D G F G F D F D",
        "D F D told reporters that F D was G F G D",
        "in # F D F G D F D F D G",
        "F G D F D has G F D since #",
        "critics say F D F G D could G F G D F D",
        "the D is expected to G F D F D before F G D",
    ],
    "forum": [
        "I think F D is G F D F G ?",
        "thanks for F D I G F D F G D",
        "has anyone G F D F D ?",
        "I tried F D F G D but F D still G",
        "honestly F D F G D is F G D",
        "same D here F D F G D after F D",
        "does anyone know F D F G D ?",
        "edit: F D was G F G D F D",
        "my D F G D F D works G now",
        "you should G F D F D F G D",
    ],
    "code": [
        "the D F G D returns F D F D",
        "you can call D F G D F D",
        "F D F D is G F D F G D",
        "to G F D run D F D F D",
        "this D G F D when F D is G",
        "we use F D F G D to G F D F D",
        "F D throws F D if F D is D",
        "make sure F D F D is G before F G D",
        "the D takes F D F D and returns F D",
        "in version # F D F D was G F D",
    ],
    "legal": [
        "the D held that F D F D was G F D",
        "pursuant to D # F D F D shall G F D",
        "F D F G D F D F D hereby G",
        "the D shall G F D F D F G D",
        "in F D F D v D F D G F D",
        "F D argued that F D F D was not G",
        "whereas F D F G D F D F D",
        "any D arising F D F D shall be G F D",
        "the D F G D was G on appeal F D",
        "F D may G F D within # days F D",
    ],
    "recipes": [
        "preheat the D to # degrees and G F D",
        "add F D F D and stir F G D",
        "F D F D for # minutes until G",
        "in a large D whisk F D F D F D",
        "season F D with D and D F G",
        "serve F D with F G D F D",
        "let F D rest for # minutes before G",
        "this D is G F D F G D",
        "combine F D F D in F D F G",
        "bake for # minutes or until F D is G",
    ],
    "science": [
        "we observed F D F D F G D",
        "the results suggest that F D F D is G F D",
        "F D F D was measured F G D",
        "these D indicate F G D between F D F D",
        "F D F G D F D is G F D",
        "our D shows that F D increases F D",
        "in F D F D F D were G F D",
        "F G D of F D F # D was G",
        "previous D has shown F D F G D",
        "F D is G by F D F D F D",
    ],
}

# Encyclopedic patterns added to every domain's templates for kind="reference".
_REFERENCE_TEMPLATES = [
    "the D is a G D F D F D",
    "F D was first G in # by F D",
    "it is F G D F D F D F G D",
    "F D F D is G as F D F D",
    "F D consists F F G D F D",
    "the term D refers to F D F D",
    "F D F D are G F D F G D",
    "in F G D F D F D G F D",
    "D F D became G F D during F # D",
    "F D F D is G F D F D and F D",
]

_SITE_WORDS: dict[str, tuple[list[str], list[str]]] = {
    "news": (["daily", "metro", "national", "evening", "city", "world"], ["times", "herald", "post", "tribune", "gazette", "wire"]),
    "forum": (["gear", "tech", "hobby", "garden", "retro", "bike"], ["talk", "board", "forums", "hub", "corner", "lounge"]),
    "code": (["dev", "stack", "code", "byte", "bit", "open"], ["docs", "notes", "guide", "lab", "blog", "tips"]),
    "legal": (["law", "court", "justice", "legal", "statute", "case"], ["review", "reports", "digest", "journal", "watch", "index"]),
    "recipes": (["home", "kitchen", "simple", "family", "green", "rustic"], ["cooking", "recipes", "table", "pantry", "bakes", "eats"]),
    "science": (["science", "nature", "lab", "quantum", "bio", "earth"], ["daily", "journal", "letters", "today", "notes", "review"]),
}
_URL_PATH = {"news": "world", "forum": "t", "code": "docs", "legal": "cases", "recipes": "recipes", "science": "articles"}
_TLDS = [".com", ".org", ".net", ".co.uk", ".io", ".info"]

_NAV_LINES = [
    "Home | News | About | Contact",
    "Share this: Facebook Twitter Email",
    "Posted by admin on {n} March 2021",
    "Read more",
    "Related posts",
    "Tags: {w}, {w}, {w}",
    "Filed under {w}",
    "Last updated {n} hours ago",
]
_BOILERPLATE = [
    "We use cookies to improve your experience on our website.",
    "This website uses cookies. By continuing to browse you agree to our use of cookies.",
    "Accept all cookies",
    "Cookie settings",
    "Please enable JavaScript in your browser to view this page.",
    "JavaScript is disabled in your browser.",
    "You need to enable javascript to run this app.",
    "Privacy Policy",
    "Terms of Use",
    "Terms and Conditions | Privacy Policy | Cookie Policy",
    "© {n} {site}. All rights reserved.",
    "Copyright {n} {site} Media Group",
    "Skip to main content",
    "Skip to content",
    "Subscribe to our newsletter",
    "Sign up for our newsletter and get the latest {w} updates.",
    "Log in",
    "Register",
    "Forgot your password?",
    "Share on Facebook",
    "Share on Twitter",
    "Back to top",
    "Click here to read more",
    "Loading...",
    "Page {n} of {n}",
    "Advertisement",
    "Sponsored content",
    "Related articles",
    "Popular posts",
    "Leave a comment",
    "{n} comments",
    "Powered by {site}",
    "Search this site",
]
_MENU_ITEMS = "Home About Contact Blog News Shop Products Services FAQ Careers Support Login Categories Archive".split()
_SPAM_WORDS = (
    "cheap free best buy online discount deal offer sale win winner prize cash money earn fast now "
    "click here guaranteed limited exclusive bonus casino loans pills followers viral hot amazing wow "
    "top ranked miracle instant lowest price order today risk bitcoin profit secret"
).split()
_SYMBOLS = "$$$ !!! ### >>> <<< *** ... €€€ %%% @@@ +++ ==> ||| ~~~".split()
_SHORT_PREFIXES = ["Coming soon:", "404 Not Found", "Page not found.", "Under construction", "Error:", "Redirecting", ""]

# Tiny generated vocabularies for language ID; function words first (they dominate real text).
_LANG_WORDS: dict[str, tuple[list[str], list[str]]] = {
    "en": (
        "the and of to in is that it was for on with as are this be at by not from".split(),
        "house water city river people morning garden letter family market window story school friend "
        "evening teacher village road winter summer music table book street doctor animal children "
        "mountain country question work time always today yesterday beautiful large small go see make "
        "say come".split(),
    ),
    "de": (
        "und der die das ist nicht ein eine zu mit auf den von sich des dem im auch es für wir sie".split(),
        "Haus Wasser Stadt Fluss Menschen Morgen Garten Brief Familie Markt Fenster Geschichte Schule "
        "Freund Abend Lehrer Dorf Straße Winter Sommer Musik Tisch Buch Arzt Kinder Berg Land Frage "
        "Arbeit Zeit schnell heute immer gestern wieder schön groß klein gehen sehen machen sagen "
        "kommen".split(),
    ),
    "fr": (
        "le la les et de des du est un une pas que qui dans pour sur avec il elle nous ce au".split(),
        "maison eau ville rivière gens matin jardin lettre famille marché fenêtre histoire école ami "
        "soir professeur village rue hiver été musique table livre médecin enfants montagne pays "
        "question travail temps toujours aujourd'hui hier beau grand petit aller voir faire dire "
        "venir".split(),
    ),
    "es": (
        "el la los las y de del es un una no que en por para con se su al lo como pero".split(),
        "casa agua ciudad río gente mañana jardín carta familia mercado ventana historia escuela amigo "
        "tarde maestro pueblo calle invierno verano música mesa libro médico niños montaña país "
        "pregunta trabajo tiempo siempre hoy ayer bonito grande pequeño ir ver hacer decir venir".split(),
    ),
    "ru": (
        "и в не на что он она это с как по но к из у за то мы они был была".split(),
        "дом вода город река люди утро сад письмо семья рынок окно история школа друг вечер учитель "
        "деревня улица зима лето музыка стол книга врач дети гора страна вопрос работа время всегда "
        "сегодня вчера красивый большой маленький идти видеть делать говорить".split(),
    ),
    "zh": (
        list("的是在了不和有我他这"),
        list(
            "人们中大为上个国到说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事"
            "成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实"
        ),
    ),
}


# --------------------------------------------------------------------------------------------
# Lexicon: all words, the token table (word x ending variant) and templates as integer arrays.
# --------------------------------------------------------------------------------------------

_SLOT_F, _SLOT_G, _SLOT_D, _SLOT_NUM = -1, -2, -3, -4
_SLOTS = {"F": _SLOT_F, "G": _SLOT_G, "D": _SLOT_D, "#": _SLOT_NUM}
# Token variants: a word followed by its separator, so joining tokens with "" yields the text.
_V_PLAIN, _V_CAP, _V_COMMA, _V_DOT, _V_DOT_PARA, _V_Q, _V_Q_PARA = range(7)


@dataclass(frozen=True)
class _Templates:
    flat: np.ndarray  # concatenated template elements: word id >= 0 or a negative slot code
    offset: np.ndarray  # start of template t in flat
    length: np.ndarray
    question: np.ndarray  # bool: the sentence ends with "?"
    dom_start: np.ndarray  # first template of domain d
    dom_count: np.ndarray
    min_length: int


class _Lexicon:
    """Word ids, per-slot pools and the token-string tables shared by every generated document."""

    def __init__(self) -> None:
        words: list[str] = []
        index: dict[str, int] = {}

        def wid(w: str) -> int:
            if w not in index:
                index[w] = len(words)
                words.append(w)
            return index[w]

        self.f_ids = np.array([wid(w) for w in _FUNCTION_WORDS])
        zipf = 1.0 / np.arange(1, len(self.f_ids) + 1) ** 0.9
        self.f_cdf = np.cumsum(zipf) / zipf.sum()
        self.f_cdf[-1] = 1.0
        self.g_ids = np.array([wid(w) for w in _GENERAL_WORDS])
        d_lists = [[wid(w) for w in _DOMAIN_WORDS[d]] for d in DOMAINS]
        self.d_ids = np.concatenate([np.array(x) for x in d_lists])
        self.d_count = np.array([len(x) for x in d_lists])
        self.d_start = np.concatenate([[0], np.cumsum(self.d_count)[:-1]])
        self.num_ids = np.array([wid(w) for w in _NUMBERS])
        self.templates = {
            "web": self._compile([_DOMAIN_TEMPLATES[d] for d in DOMAINS], wid),
            "reference": self._compile([_DOMAIN_TEMPLATES[d] + _REFERENCE_TEMPLATES for d in DOMAINS], wid),
        }
        self.words = words
        self._tables: dict[str, pa.Array] = {}

    @staticmethod
    def _compile(per_domain: list[list[str]], wid) -> _Templates:
        flat: list[int] = []
        offset, length, question, counts = [], [], [], []
        for tpls in per_domain:
            counts.append(len(tpls))
            for tpl in tpls:
                toks = tpl.split()
                q = toks[-1] == "?"
                if q:
                    toks = toks[:-1]
                offset.append(len(flat))
                length.append(len(toks))
                question.append(q)
                flat.extend(_SLOTS[t] if t in _SLOTS else wid(t) for t in toks)
        counts_a = np.array(counts)
        return _Templates(
            flat=np.array(flat, dtype=np.int64),
            offset=np.array(offset, dtype=np.int64),
            length=np.array(length, dtype=np.int64),
            question=np.array(question, dtype=bool),
            dom_start=np.concatenate([[0], np.cumsum(counts_a)[:-1]]),
            dom_count=counts_a,
            min_length=int(min(length)),
        )

    def token_table(self, para_sep: str) -> pa.Array:
        """Strings for token id ``variant * n_words + word``: the word with its following separator."""
        if para_sep not in self._tables:
            out: list[str] = []
            for v in range(7):
                for w in self.words:
                    cap = w[:1].upper() + w[1:]
                    out.append(
                        (w + " ", cap + " ", w + ", ", w + ". ", w + "." + para_sep, w + "? ", w + "?" + para_sep)[v]
                    )
            self._tables[para_sep] = pa.array(out, pa.string())
        return self._tables[para_sep]


@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    return _Lexicon()


def _prose(
    rng: np.random.Generator,
    domains: np.ndarray,
    min_words: np.ndarray,
    *,
    skew: float,
    mean_para: float,
    para_sep: str,
    style: str = "web",
) -> list[str]:
    """One prose document per entry of ``domains``, each with at least ``min_words`` words.

    Fully vectorized: templates are drawn per sentence, slots filled per token, and the token
    strings are joined per document by Arrow's ``binary_join``.
    """
    n_docs = len(domains)
    if n_docs == 0:
        return []
    lex = _lexicon()
    tp = lex.templates[style]
    min_words = np.maximum(np.asarray(min_words, dtype=np.int64), 1)
    # Draw enough sentences to surely reach min_words, then keep those started before reaching it.
    max_sent = -(-min_words // tp.min_length)
    sent_doc = np.repeat(np.arange(n_docs), max_sent)
    sdom = domains[sent_doc]
    t = tp.dom_start[sdom] + (rng.random(len(sent_doc)) * tp.dom_count[sdom]).astype(np.int64)
    lens = tp.length[t]
    excl = np.cumsum(lens) - lens
    first_sent = np.concatenate([[0], np.cumsum(max_sent)[:-1]])
    before = excl - excl[first_sent][sent_doc]
    keep = before < min_words[sent_doc]
    t, sent_doc, sdom, lens = t[keep], sent_doc[keep], sdom[keep], lens[keep]
    n_sent = len(t)
    last_of_doc = np.ones(n_sent, dtype=bool)
    last_of_doc[:-1] = sent_doc[1:] != sent_doc[:-1]
    para_end = (rng.random(n_sent) < 1.0 / mean_para) | last_of_doc

    n_tok = int(lens.sum())
    tok_sent = np.repeat(np.arange(n_sent), lens)
    starts = np.cumsum(lens) - lens
    pos = np.arange(n_tok) - starts[tok_sent]
    elem = tp.flat[tp.offset[t][tok_sent] + pos]

    word = elem.copy()
    u = rng.random(n_tok)
    m = elem == _SLOT_F
    word[m] = lex.f_ids[np.searchsorted(lex.f_cdf, u[m], side="right")]
    m = elem == _SLOT_G
    word[m] = lex.g_ids[(u[m] ** skew * len(lex.g_ids)).astype(np.int64)]
    m = elem == _SLOT_D
    tdom = sdom[tok_sent[m]]
    leak = rng.random(len(tdom)) < 0.07  # some words from other domains: not trivially separable
    tdom[leak] = rng.integers(0, len(DOMAINS), int(leak.sum()))
    word[m] = lex.d_ids[lex.d_start[tdom] + (u[m] ** skew * lex.d_count[tdom]).astype(np.int64)]
    m = elem == _SLOT_NUM
    word[m] = lex.num_ids[(u[m] * len(lex.num_ids)).astype(np.int64)]

    variant = np.where(rng.random(n_tok) < 0.05, _V_COMMA, _V_PLAIN)
    variant[pos == 0] = _V_CAP
    last = pos == lens[tok_sent] - 1
    ls = tok_sent[last]
    q = tp.question[t[ls]]
    pe = para_end[ls]
    variant[last] = np.where(q, np.where(pe, _V_Q_PARA, _V_Q), np.where(pe, _V_DOT_PARA, _V_DOT))

    ids = variant * len(lex.words) + word
    per_doc = np.bincount(sent_doc, weights=lens, minlength=n_docs).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int32)
    values = lex.token_table(para_sep).take(pa.array(ids, pa.int64()))
    joined = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values), "")
    return pc.utf8_rtrim_whitespace(joined).to_pylist()


class _Uniforms:
    """Cheap stream of uniform floats drawn from the numpy generator in blocks (for per-doc loops)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._i = 0

    def u(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._rng.random(self._block).tolist()
            self._i = 0
        self._i += 1
        return self._buf[self._i - 1]

    def int(self, lo: int, hi: int) -> int:
        """Uniform integer in [lo, hi]."""
        return lo + int(self.u() * (hi - lo + 1))

    def pick(self, seq: Sequence):
        return seq[int(self.u() * len(seq))]


def _fill(line: str, s: _Uniforms, domain: str, site: str) -> str:
    """Replace {n}, {w} and {site} placeholders so boilerplate varies a little between pages."""
    while "{n}" in line:
        line = line.replace("{n}", str(s.int(1, 2024)), 1)
    while "{w}" in line:
        line = line.replace("{w}", s.pick(_DOMAIN_WORDS[domain]), 1)
    return line.replace("{site}", site)


def _site_name(s: _Uniforms, domain: str) -> str:
    a, b = _SITE_WORDS[domain]
    return (s.pick(a) + s.pick(b)).capitalize()


def _medium(prose: str, domain: str, s: _Uniforms) -> str:
    """Plain prose plus, on most pages, one or two navigation lines."""
    lines = [prose]
    if s.u() < 0.7:
        lines.insert(0, _fill(s.pick(_NAV_LINES), s, domain, ""))
    if s.u() < 0.5:
        lines.append(_fill(s.pick(_NAV_LINES), s, domain, ""))
    return "\n".join(lines)


def _low(prose: str, domain: str, s: _Uniforms) -> str:
    """Boilerplate page: menus, cookie/JavaScript/legal lines, repeated and truncated short lines."""
    site = _site_name(s, domain)
    head: list[str] = []
    if s.u() < 0.7:
        items = [s.pick(_MENU_ITEMS) for _ in range(s.int(3, 7))]
        head.extend(items if s.u() < 0.5 else [" | ".join(items)])
    body = []
    for line in prose.split("\n"):
        if s.u() < 0.3:  # truncated line, no terminal punctuation
            words = line.split(" ")
            line = " ".join(words[: max(1, len(words) - s.int(1, 4))]).rstrip(".,?")
        body.append(line)
    boiler = [_fill(s.pick(_BOILERPLATE), s, domain, site) for _ in range(s.int(3, 8))]
    for b in boiler:
        body.insert(s.int(0, len(body)), b)
    for _ in range(s.int(1, 2)):  # repeated lines
        rep = s.pick(boiler + head) if head else s.pick(boiler)
        for _ in range(s.int(2, 4)):
            body.insert(s.int(0, len(body)), rep)
    return "\n".join(head + body)


@lru_cache(maxsize=len(DOMAINS))
def _spam_vocab(domain: str) -> np.ndarray:
    return np.array(_SPAM_WORDS + _DOMAIN_WORDS[domain], dtype=object)


def _spam_words(domain: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` words: 70% spam keywords, 30% words of the page's domain."""
    n_spam = len(_SPAM_WORDS)
    idx = np.where(
        rng.random(n) < 0.7,
        rng.integers(0, n_spam, n),
        n_spam + rng.integers(0, len(_DOMAIN_WORDS[domain]), n),
    )
    return _spam_vocab(domain)[idx]


def _spam(domain: str, s: _Uniforms, rng: np.random.Generator) -> str:
    """Keyword stuffing, repeated n-grams, symbol soup, all caps, very short or very long lines."""
    lines: list[str] = []
    for _ in range(s.int(1, 3)):
        style = s.int(0, 3)
        if style == 0:  # keyword stuffing: a phrase repeated within and across lines
            phrase = " ".join(_spam_words(domain, rng, s.int(3, 5)))
            for _ in range(s.int(4, 12)):
                line = " ".join([phrase] * s.int(3, 8))
                lines.append(line.upper() if s.u() < 0.4 else line)
        elif style == 1:  # symbol soup
            for _ in range(s.int(3, 10)):
                toks = [s.pick(_SYMBOLS) if s.u() < 0.6 else s.pick(_SPAM_WORDS).upper() for _ in range(s.int(4, 14))]
                lines.append(" ".join(toks))
        elif style == 2:  # many very short all-caps lines
            n_lines = s.int(20, 60)
            words = _spam_words(domain, rng, 3 * n_lines)
            cuts = np.cumsum(rng.integers(1, 4, n_lines))
            lines.extend(" ".join(w).upper() for w in np.split(words[: cuts[-1]], cuts[:-1]))
        else:  # one very long unpunctuated line
            vocab = _spam_words(domain, rng, s.int(5, 12))
            lines.append(" ".join(vocab[rng.integers(0, len(vocab), s.int(400, 1500))]))
    return "\n".join(lines)


def _very_short(domain: str, s: _Uniforms) -> str:
    pool = _DOMAIN_WORDS[domain] + _GENERAL_WORDS
    prefix = s.pick(_SHORT_PREFIXES)
    words = " ".join(s.pick(pool) for _ in range(s.int(3, 8)))
    return (prefix + " " + words).strip()


def _lang_sentence(lang: str, s: _Uniforms) -> str:
    """One generated sentence in ``lang``: function and content words, capitalized, punctuated."""
    func, content = _LANG_WORDS[lang]
    if lang == "zh":  # Han characters, no spaces, full-width punctuation
        chars = [s.pick(func) if s.u() < 0.3 else s.pick(content) for _ in range(s.int(8, 24))]
        if len(chars) > 10 and s.u() < 0.5:
            chars.insert(s.int(4, len(chars) - 4), "，")
        return "".join(chars) + "。"
    words = [s.pick(func) if s.u() < 0.45 else s.pick(content) for _ in range(s.int(6, 14))]
    words[0] = words[0][:1].upper() + words[0][1:]
    if len(words) > 7 and s.u() < 0.3:
        words[4] += ","
    return " ".join(words) + ("?" if s.u() < 0.08 else ".")


def _non_latin(s: _Uniforms) -> str:
    lang = "ru" if s.u() < 0.5 else "zh"
    sep = "" if lang == "zh" else " "
    paras = [sep.join(_lang_sentence(lang, s) for _ in range(s.int(3, 6))) for _ in range(s.int(2, 5))]
    return "\n\n".join(paras)


_WS_SPLIT = re.compile(r"(\s+)")
_TRAIL_PUNCT = re.compile(r"[.,?!:;]+$")


def _near_copy(text: str, rate: float, rng: np.random.Generator, domain: str) -> tuple[str, float]:
    """Edit about ``rate`` of the words (substitute, insert or delete); returns text and exact rate.

    Edited positions are never adjacent, so the word-level edit distance to the original equals the
    number of edits.
    """
    parts = _WS_SPLIT.split(text)
    words, seps = parts[0::2], parts[1::2]
    n = len(words)
    n_edits = max(1, min(int(round(rate * n)), (n + 1) // 2))
    chosen = np.sort(rng.choice(n - n_edits + 1, n_edits, replace=False)) + np.arange(n_edits)
    ops = rng.integers(0, 3, n_edits)
    pool = _DOMAIN_WORDS[domain] + _GENERAL_WORDS
    new_words = rng.integers(0, len(pool), n_edits)
    for p, op, nw in zip(chosen[::-1].tolist(), ops[::-1].tolist(), new_words[::-1].tolist(), strict=True):
        w = pool[nw]
        old = words[p]
        core = _TRAIL_PUNCT.sub("", old)
        if op == 2 and core != old:
            op = 0  # a sentence-final word is substituted, not deleted: sentences keep their end
        if op == 0:  # substitute, keeping trailing punctuation and capitalization
            if w.lower() == core.lower():
                w = pool[(nw + 1) % len(pool)]
            if core[:1].isupper():
                w = w[:1].upper() + w[1:]
            words[p] = w + old[len(core):]
        elif op == 1:  # insert before word p
            words.insert(p, w)
            seps.insert(p, " ")
        else:  # delete word p and one adjacent separator
            del words[p]
            if seps:
                del seps[p - 1 if p > 0 else 0]
    out = [""] * (2 * len(words) - 1)
    out[0::2] = words
    out[1::2] = seps
    return "".join(out), n_edits / n


# --------------------------------------------------------------------------------------------
# The corpus plan: labels, duplicate groups and positions, drawn up front for all documents.
# --------------------------------------------------------------------------------------------

_ROLE_UNIQUE, _ROLE_ORIGINAL, _ROLE_EXACT, _ROLE_NEAR = range(4)
_SPECIAL_NONE, _SPECIAL_SHORT, _SPECIAL_NON_LATIN = range(3)


@dataclass
class _Plan:
    domain: np.ndarray
    quality: np.ndarray
    role: np.ndarray
    group: np.ndarray  # group number, -1 if the document has no copies
    source: np.ndarray  # position of the original for copies, else -1
    special: np.ndarray
    n_words: np.ndarray  # target prose length (words)
    edit_rate: np.ndarray  # near copies only, else nan
    remaining: np.ndarray  # per group: copies not yet emitted (to free the original's text)


def _make_plan(rng: np.random.Generator, n: int, kind: str, exact_rate: float, near_rate: float) -> _Plan:
    n_exact = int(round(exact_rate * n))
    n_near = int(round(near_rate * n))
    copy_kinds = np.concatenate([np.full(n_exact, _ROLE_EXACT), np.full(n_near, _ROLE_NEAR)])
    rng.shuffle(copy_kinds)
    # Split the copies into groups of 1-3 copies each; every group gets one original.
    sizes: list[int] = []
    left = len(copy_kinds)
    draws = rng.choice(np.arange(1, 4), size=max(left, 1), p=_COPIES_P).tolist()
    for d in draws:
        if left == 0:
            break
        sizes.append(min(d, left))
        left -= sizes[-1]
    n_groups = len(sizes)
    if n_groups + len(copy_kinds) > n:
        raise ConfigError(
            f"exact_dup_rate + near_dup_rate too high for {n} documents: "
            f"{len(copy_kinds)} copies need {n_groups} more originals"
        )

    domain = rng.choice(len(DOMAINS), size=n, p=_DOMAIN_P)
    if kind == "reference":
        quality = np.full(n, _HIGH)
    else:
        quality = rng.choice(len(QUALITIES), size=n, p=_QUALITY_P)
    role = np.full(n, _ROLE_UNIQUE)
    group = np.full(n, -1)
    source = np.full(n, -1)
    edit_rate = np.full(n, np.nan)
    special = np.full(n, _SPECIAL_NONE)

    # Members of each group sit at random positions (scattered across shards); the first is the original.
    perm = rng.permutation(n)
    cursor = 0
    k = 0
    has_near = np.zeros(n_groups, dtype=bool)
    for g, size in enumerate(sizes):
        members = np.sort(perm[cursor : cursor + size + 1])
        cursor += size + 1
        orig, copies = members[0], members[1:]
        kinds = copy_kinds[k : k + size]
        k += size
        role[orig] = _ROLE_ORIGINAL
        group[members] = g
        role[copies] = kinds
        source[copies] = orig
        has_near[g] = bool((kinds == _ROLE_NEAR).any())
    originals = np.flatnonzero(role == _ROLE_ORIGINAL)
    near_orig = originals[has_near[group[originals]]]
    if kind == "web" and len(near_orig):  # near originals are prose (high or medium) for MinHash
        quality[near_orig] = np.where(rng.random(len(near_orig)) < 0.6, _HIGH, _MEDIUM)
    copies = np.flatnonzero(source >= 0)
    domain[copies] = domain[source[copies]]
    quality[copies] = quality[source[copies]]
    near = np.flatnonzero(role == _ROLE_NEAR)
    edit_rate[near] = rng.uniform(*_EDIT_RATE_RANGE, size=len(near))

    if kind == "web":
        unique = np.flatnonzero(role == _ROLE_UNIQUE)
        u = rng.random(len(unique))
        short = unique[u < _SHORT_RATE]
        non_latin = unique[(u >= _SHORT_RATE) & (u < _SHORT_RATE + _NON_LATIN_RATE)]
        special[short] = _SPECIAL_SHORT
        quality[short] = _LOW
        special[non_latin] = _SPECIAL_NON_LATIN
        quality[non_latin] = _MEDIUM
        # Forced tiers (near originals, special pages) skew the mix: the free unique documents
        # take whatever keeps the overall proportions at _QUALITY_P.
        free = unique[u >= _SHORT_RATE + _NON_LATIN_RATE]
        fixed = np.ones(n, dtype=bool)
        fixed[free] = False
        want = np.maximum(np.round(_QUALITY_P * n) - np.bincount(quality[fixed], minlength=len(QUALITIES)), 0)
        want = np.floor(want * len(free) / max(want.sum(), 1)).astype(np.int64)
        want[np.argmax(want)] += len(free) - want.sum()
        quality[free] = rng.permutation(np.repeat(np.arange(len(QUALITIES)), want))

    u = rng.random(n)
    n_words = np.select(
        [quality == _HIGH, quality == _MEDIUM, quality == _LOW],
        [150 + 610 * u**1.5, 50 + 150 * u, 15 + 75 * u],
        default=0,
    ).astype(np.int64)
    n_words[near_orig] = np.maximum(n_words[near_orig], _NEAR_MIN_WORDS + (100 * u[near_orig]).astype(np.int64))
    remaining = np.bincount(group[group >= 0], minlength=n_groups) - 1 if n_groups else np.zeros(0, np.int64)
    return _Plan(domain, quality, role, group, source, special, n_words, edit_rate, remaining)


# --------------------------------------------------------------------------------------------
# Generation and writing.
# --------------------------------------------------------------------------------------------

_OUTPUT_SCHEMA = pa.schema(
    [
        (schema.ID, pa.string()),
        (schema.TEXT, pa.string()),
        (schema.URL, pa.string()),
        (schema.TRUE_DOMAIN, pa.string()),
        (schema.TRUE_QUALITY, pa.string()),
        (schema.TRUE_DUP_GROUP, pa.string()),
        (schema.TRUE_DUP_KIND, pa.string()),
        (schema.TRUE_EDIT_RATE, pa.float64()),
    ]
)
_KIND_NAME = {_ROLE_UNIQUE: None, _ROLE_ORIGINAL: DUP_ORIGINAL, _ROLE_EXACT: DUP_EXACT, _ROLE_NEAR: DUP_NEAR}


def _chunks(plan: _Plan, rng: np.random.Generator, kind: str, id_width: int) -> Iterator[pa.Table]:
    """Yield the corpus as tables of up to _CHUNK rows in global document order."""
    n = len(plan.domain)
    stream = _Uniforms(rng)
    saved: dict[int, str] = {}  # text of originals whose copies are still to come
    style = "reference" if kind == "reference" else "web"
    params = {
        _HIGH: {"skew": 1.3, "mean_para": 5.0, "para_sep": "\n\n"},
        _MEDIUM: {"skew": 2.2, "mean_para": 3.0, "para_sep": "\n"},
        _LOW: {"skew": 2.5, "mean_para": 1.3, "para_sep": "\n"},
    }
    for lo in range(0, n, _CHUNK):
        idx = np.arange(lo, min(n, lo + _CHUNK))
        texts: list[str | None] = [None] * len(idx)
        dom, qual = plan.domain[idx], plan.quality[idx]
        fresh = (plan.role[idx] <= _ROLE_ORIGINAL) & (plan.special[idx] == _SPECIAL_NONE)
        for tier, p in params.items():
            sel = np.flatnonzero(fresh & (qual == tier))
            prose = _prose(rng, dom[sel], plan.n_words[idx[sel]], style=style, **p)
            for j, t in zip(sel.tolist(), prose, strict=True):
                d = DOMAINS[dom[j]]
                texts[j] = t if tier == _HIGH else _medium(t, d, stream) if tier == _MEDIUM else _low(t, d, stream)
        for j in np.flatnonzero(fresh & (qual == _SPAM)).tolist():
            texts[j] = _spam(DOMAINS[dom[j]], stream, rng)
        for j in np.flatnonzero(plan.special[idx] == _SPECIAL_SHORT).tolist():
            texts[j] = _very_short(DOMAINS[dom[j]], stream)
        for j in np.flatnonzero(plan.special[idx] == _SPECIAL_NON_LATIN).tolist():
            texts[j] = _non_latin(stream)
        for j in np.flatnonzero(plan.role[idx] == _ROLE_ORIGINAL).tolist():
            saved[int(idx[j])] = texts[j]
        for j in np.flatnonzero(plan.role[idx] >= _ROLE_EXACT).tolist():
            pos = int(idx[j])
            src = int(plan.source[pos])
            if plan.role[pos] == _ROLE_EXACT:
                texts[j] = saved[src]
            else:
                texts[j], plan.edit_rate[pos] = _near_copy(saved[src], plan.edit_rate[pos], rng, DOMAINS[dom[j]])
            g = plan.group[pos]
            plan.remaining[g] -= 1
            if plan.remaining[g] == 0:
                del saved[src]

        ids = [f"doc-{i:0{id_width}d}" for i in (idx + 1).tolist()]
        urls = _urls(idx, dom, rng)
        grp = plan.group[idx]
        table = pa.table(
            [
                pa.array(ids, pa.string()),
                pa.array(texts, pa.string()),
                pa.array(urls, pa.string()),
                pa.array(np.array(DOMAINS)[dom].tolist(), pa.string()),
                pa.array(np.array(QUALITIES)[qual].tolist(), pa.string()),
                pa.array([f"g{g:06d}" if g >= 0 else None for g in grp.tolist()], pa.string()),
                pa.array([_KIND_NAME[r] for r in plan.role[idx].tolist()], pa.string()),
                pa.array(plan.edit_rate[idx], pa.float64(), from_pandas=True),
            ],
            schema=_OUTPUT_SCHEMA,
        )
        yield table


@lru_cache(maxsize=len(DOMAINS))
def _slug_words(domain: str) -> list[str]:
    return [re.sub(r"[^a-z0-9]+", "", w.lower()) for w in _DOMAIN_WORDS[domain]]


def _urls(idx: np.ndarray, dom: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Fake page URLs: a per-domain site name, a path and a slug of 2-4 domain words."""
    n = len(idx)
    site = rng.integers(0, 6, (n, 3))  # first part, second part, TLD
    slug = rng.random((n, 4))
    n_slug = rng.integers(2, 5, n)
    out = []
    for i, d, st, sl, k in zip(idx.tolist(), dom.tolist(), site.tolist(), slug.tolist(), n_slug.tolist(), strict=True):
        name = DOMAINS[d]
        a, b = _SITE_WORDS[name]
        words = _slug_words(name)
        path = "-".join(words[int(u * len(words))] for u in sl[:k])
        out.append(f"https://www.{a[st[0] % len(a)]}{b[st[1] % len(b)]}{_TLDS[st[2] % len(_TLDS)]}/{_URL_PATH[name]}/{path}-{i + 1}")
    return out


class _ShardWriter:
    """Writes one shard to a hidden temporary name and renames it into place when complete."""

    def __init__(self, path: Path, fmt: str, row_group_size: int | None) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self.fmt = fmt
        self.rgs = row_group_size or _DEFAULT_ROW_GROUP
        self.pending: list[pa.Table] = []
        self.n_pending = 0
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(self.tmp, _OUTPUT_SCHEMA, compression="zstd")
        else:
            raw = open(self.tmp, "wb")  # noqa: SIM115 - closed in close()
            self._raw = raw
            self._fh = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if fmt == "jsonl.gz" else raw

    def write(self, table: pa.Table) -> None:
        if self.fmt != "parquet":
            names = table.column_names
            cols = [table.column(c).to_pylist() for c in names]
            lines = [json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n" for row in zip(*cols, strict=True)]
            self._fh.write("".join(lines).encode("utf-8"))
            return
        self.pending.append(table)
        self.n_pending += table.num_rows
        while self.n_pending >= self.rgs:
            self._flush(self.rgs)

    def _flush(self, rows: int) -> None:
        merged = pa.concat_tables(self.pending)
        self._pq.write_table(merged.slice(0, rows), row_group_size=rows)
        rest = merged.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.n_pending = rest.num_rows

    def close(self) -> None:
        if self.fmt == "parquet":
            if self.n_pending:
                self._flush(self.n_pending)
            self._pq.close()
        else:
            if self._fh is not self._raw:
                self._fh.close()
            self._raw.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Close without publishing: the temporary file is removed."""
        try:
            if self.fmt == "parquet":
                self._pq.close()
            else:
                self._fh.close()
                self._raw.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def generate(
    out_dir: str | os.PathLike,
    n_docs: int = 2000,
    seed: int = 0,
    n_shards: int = 4,
    fmt: str = "parquet",
    kind: str = "web",
    exact_dup_rate: float = 0.05,
    near_dup_rate: float = 0.08,
    row_group_size: int | None = None,
) -> dict:
    """Write a synthetic corpus of ``n_docs`` documents into ``n_shards`` shard files; return counts.

    Same arguments give the same bytes. Columns: id, text, url and the ground truth
    true_domain, true_quality, true_dup_group, true_dup_kind, true_edit_rate.
    """
    if n_docs < 1:
        raise ConfigError(f"n_docs must be >= 1, got {n_docs}")
    if n_shards < 1:
        raise ConfigError(f"n_shards must be >= 1, got {n_shards}")
    if fmt not in FORMATS:
        raise ConfigError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if kind not in KINDS:
        raise ConfigError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    for name, rate in (("exact_dup_rate", exact_dup_rate), ("near_dup_rate", near_dup_rate)):
        if not 0.0 <= rate < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {rate}")
    if row_group_size is not None and row_group_size < 1:
        raise ConfigError(f"row_group_size must be >= 1, got {row_group_size}")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(seed))
    plan = _make_plan(rng, n_docs, kind, exact_dup_rate, near_dup_rate)
    bounds = [n_docs * s // n_shards for s in range(n_shards + 1)]
    ext = {"parquet": "parquet", "jsonl": "jsonl", "jsonl.gz": "jsonl.gz"}[fmt]
    names = [f"shard-{s:05d}.{ext}" for s in range(n_shards)]
    id_width = max(7, len(str(n_docs)))

    shard = 0
    writer = _ShardWriter(out / names[0], fmt, row_group_size)
    try:
        pos = 0
        for table in _chunks(plan, rng, kind, id_width):
            while table.num_rows:
                while pos >= bounds[shard + 1]:  # current shard full (or empty): next shard
                    writer.close()
                    shard += 1
                    writer = _ShardWriter(out / names[shard], fmt, row_group_size)
                take = min(table.num_rows, bounds[shard + 1] - pos)
                writer.write(table.slice(0, take))
                table = table.slice(take)
                pos += take
        while shard < n_shards - 1:
            writer.close()
            shard += 1
            writer = _ShardWriter(out / names[shard], fmt, row_group_size)
        writer.close()
    except BaseException:
        writer.abort()
        raise

    return {
        "kind": kind,
        "format": fmt,
        "seed": seed,
        "n_docs": n_docs,
        "n_shards": n_shards,
        "files": names,
        "domains": {d: int((plan.domain == i).sum()) for i, d in enumerate(DOMAINS)},
        "qualities": {q: int((plan.quality == i).sum()) for i, q in enumerate(QUALITIES)},
        "dup_groups": int(len(plan.remaining)),
        "exact_copies": int((plan.role == _ROLE_EXACT).sum()),
        "near_copies": int((plan.role == _ROLE_NEAR).sum()),
        "very_short": int((plan.special == _SPECIAL_SHORT).sum()),
        "non_latin": int((plan.special == _SPECIAL_NON_LATIN).sum()),
    }


def language_samples(n_per_language: int = 200, seed: int = 0) -> pa.Table:
    """Generated sentences (1-3 per row) in en, de, fr, es, ru and zh for training a tiny language-ID model."""
    if n_per_language < 1:
        raise ConfigError(f"n_per_language must be >= 1, got {n_per_language}")
    s = _Uniforms(np.random.Generator(np.random.PCG64(seed)))
    texts, langs = [], []
    for lang in LANGUAGES:
        sep = "" if lang == "zh" else " "
        for _ in range(n_per_language):
            texts.append(sep.join(_lang_sentence(lang, s) for _ in range(s.int(1, 3))))
            langs.append(lang)
    return pa.table({schema.TEXT: pa.array(texts, pa.string()), schema.TRUE_LANGUAGE: pa.array(langs, pa.string())})
