"""Detectors for personal data in text: e-mail addresses, IP addresses, phone, card and IBAN numbers.

Each detector is an RE2 *candidate* pattern, run over the whole column by Arrow
(:mod:`curate.text.regex_matches`), and a *validator* that decides, per candidate and with the
text around it, whether it is personal data: e-mail domains must end in a real top-level
domain, IPs must parse and be public, phone numbers must be valid numbers of their country
(Google's libphonenumber metadata, via ``phonenumbers``), card numbers must pass the Luhn check
and start with an issuer prefix, IBANs must pass ISO 13616's mod-97 check and their country's
length (``python-stdnum``). Version strings, section numbers, order and tracking numbers and
ISBNs are recognised by the word before them. The validators see only the candidates, which
are few next to the documents, so they may use Python libraries per candidate.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import import_extra
from curate.text import domains
from curate.text.regex_matches import Matches

TYPES = ("email", "iban", "credit_card", "ip", "phone")  # the order in which they are searched

DEFAULT_PLACEHOLDERS = {
    "email": "<EMAIL>", "ip": "<IP>", "phone": "<PHONE>", "credit_card": "<CREDIT_CARD>", "iban": "<IBAN>",
}

# The local part and domain of datatrove's PIIFormatter e-mail pattern (so spans agree), with
# the domain-literal branch dropped and without `=` in the local part (RFC 5322 allows it, but
# in text it is nearly always `key=user@host` in a query string or log line); the top-level
# domain is then checked against the PSL.
_EMAIL = (r"\b[A-Za-z0-9!#$%&'*+/?^_`{|}~\-]+(?:\.[A-Za-z0-9!#$%&'*+/?^_`{|}~\-]+)*@"
          r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?")
# IPv4: four parts; more dotted parts are swallowed so that `1.2.3.4.5` is seen (and kept) whole.
_IPV4 = r"\b\d{1,3}(?:\.\d{1,3}){3}(?:\.\d+)*\b"
# IPv6 (RFC 4291 text forms, with :: and an embedded IPv4 tail); parsed by `ipaddress`.
_IPV6 = r"(?:[0-9A-Fa-f]{1,4}|:)(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}"
_PHONE = "|".join((
    # international: +CC or 00CC, optional (0) and (area code), then digit groups
    r"(?:\+|\b00)[1-9]\d{0,2}[ .\-]?(?:\(0\)[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{1,5}){1,5}\b",
    # US/CA (NANP): (212) 555-0187, 212-555-0187, 212.555.0187, 1-800-555-0199
    r"(?:\(\d{3}\)[ ]?|\b(?:1[ .\-])?\d{3}[ .\-])\d{3}[ .\-]\d{4}\b",
    # UK: 020 7946 0958, 0113 496 0000, 07700 900123, 01632 960123
    r"\b0\d{2,4}[ ]?\d{3,4}[ ]?\d{3,4}\b",
    # DE: 030 12345678, 030/1234567, 0151 23456789, 089 123456-78, (030) 1234567
    r"(?:\b0\d{2,5}|\(0\d{2,5}\))(?:[ /\-]| / )?\d{3,9}(?:[ \-]\d{1,5})?\b",
    # FR: 01 23 45 67 89, 01.23.45.67.89
    r"\b0[1-9](?:[ .\-]?\d{2}){4}\b",
    # IN: mobile 98765 43210 / 098765-43210 / 09876543210 (landlines: UK branch); a bare
    # ten-digit number is too often an identifier
    r"\b(?:0[6-9]\d{4}[ \-]?\d{5}|[6-9]\d{4}[ \-]\d{5})\b",
))
_CARD = (r"\b(?:\d{13,19}|\d{4}(?:[ \-]\d{4}){2}[ \-]\d{4}(?:[ \-]?\d{1,3})?"
         r"|\d{4}[ \-]\d{6}[ \-]\d{4,5})\b")
# ISO 13616: country, two check digits, up to 30 alphanumerics, printed in groups of four.
_IBAN = r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b"

# Words after which a number is a version or section number, not an address.
VERSION_BEFORE = (r"(?i)(?:\b(?:versions?|ver|v|release|rel|build|rev|revision|firmware|fw|section|sect|sec"
                   r"|chapter|ch|clause|dfars|far|cfr|subpart|paragraph|subparagraph|fig|figure|table|step|item|rule"
                   r"|oid)|§)\.?\s*[:=#]?\s*$")
# Words after which a number is an identifier (order, tracking, ISBN...), not a phone or card.
_IDENTIFIER_BEFORE = (r"(?i)\b(?:isbn(?:-?1[03])?|issn|doi|order|tracking|invoice|receipt|ref|reference|serial"
                      r"|sku|part|patent|ticket|transaction|confirmation|shipment|parcel|awb|case|item|article"
                      r"|product|model|batch|lot)(?:\s*(?:no|nr|number|num|id|code|#)\.?)?\s*[:#=]?\s*$")
# A number continued by more digit groups is part of a longer number.
_DIGITS_BEFORE = r"(?:\d[ .\-/]?|\+)$"  # `+` before: the digits of a phone number
_DIGITS_AFTER = r"^[ .\-/]?\d"
# The start of an IBAN-shaped token (one that failed its checksum): its digits are no phone.
_IBAN_BEFORE = r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4})+ ?$"

# US state and territory codes (USPS): `Boston, MA 02110-1301` is a ZIP+4 code, not a phone number.
_US_STATES = ("AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY"
              "|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP")
_ZIP_BEFORE = rf"\b(?:{_US_STATES}),?[ \t]+$"
_ZIP = r"^\d{5}(?:-\d{4})?$"
# A legal citation's subdivision right after the number: `252.227-7013 (c) (1)`, `52.227-19(a)`.
_CITATION_AFTER = r"^[ \t]*\([a-z0-9]{1,3}\)"
# A digit sequence counting up or down (`0123456789`, an alphabet of digits in code), not a number.
_DIGIT_RUNS = ("01234567890123456789", "98765432109876543210")
# Start of a line (only blanks before it on its line): where section and version numbers open headings.
_LINE_START = r"(?:^|\n)[ \t]*$"
# After a dotted quad: a heading's "." or blanks and a word (`5.3.3.1. Format`, `3.43.1.6 Why`)
_HEADING_AFTER = r"^(?:\.(?:\s|$)|[ \t]+[A-Za-z(])"
# After a dotted quad: more of a host name (`1.0.0.127.in-addr.arpa`)
_HOSTNAME_AFTER = r"^\.[A-Za-z]"
# An IPv6 candidate that is one group and `::` (`print 42::`, `x86-64::`): reStructuredText's
# literal-block marker after a number, never an address anyone writes.
_RST_LITERAL = r"^[0-9A-Fa-f]{1,4}::$"

# Reserved for documentation and examples: RFC 2606 (example.com/.net/.org, .example, .test,
# .invalid, .localhost) and RFC 6761.
EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org", "example", "test", "invalid", "localhost")
# Fictional phone numbers: NANPA reserves 555-0100..555-0199 in every area code; Ofcom's
# "Telephone numbers for use in TV and radio drama" lists these UK ranges.
_EXAMPLE_PHONES = re.compile(
    r"^(?:\+1\d{3}55501\d{2}"
    r"|\+44(?:2079460|11[3-8]4960|1214960|1314960|1414960|1514960|1614960|7700900|1632960|2890180|2920180)\d{3})$")
# Published test card numbers (payment processors' developer documentation: Stripe, PayPal).
EXAMPLE_CARDS = frozenset((
    "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556", "4222222222222",
    "5555555555554444", "5105105105105100", "5200828282828210", "2223003122003222",
    "378282246310005", "371449635398431", "378734493671000",
    "6011111111111117", "6011000990139424", "6011000000000004",
    "3530111333300000", "3566002020360505", "30569309025904", "38520000023237", "36227206271667",
    "6200000000000005",
))
# Specimen IBANs printed by the banks' and registries' own examples (ISO 13616 registry, ECBS).
EXAMPLE_IBANS = frozenset((
    "DE89370400440532013000", "GB82WEST12345698765432", "GB29NWBK60161331926819",
    "FR1420041010050500013M02606", "FR7630006000011234567890189", "NL91ABNA0417164300",
    "ES9121000418450200051332", "IT60X0542811101000000123456", "BE68539007547034",
    "CH9300762011623852957", "AT611904300234573201",
))

# Issuer prefixes and lengths of payment card numbers (ISO/IEC 7812 issuer identification
# numbers as the card networks publish them): (first prefix, last prefix, lengths).
_CARD_ISSUERS = (
    ("4", "4", (13, 16, 19)),  # Visa
    ("51", "55", (16,)), ("2221", "2720", (16,)),  # Mastercard
    ("34", "34", (15,)), ("37", "37", (15,)),  # American Express
    ("6011", "6011", (16, 17, 18, 19)), ("644", "649", (16, 17, 18, 19)), ("65", "65", (16, 17, 18, 19)),  # Discover
    ("300", "305", (14, 15, 16, 17, 18, 19)), ("36", "36", (14, 15, 16, 17, 18, 19)),  # Diners Club
    ("38", "39", (16, 17, 18, 19)),
    ("3528", "3589", (16, 17, 18, 19)),  # JCB
    ("62", "62", (16, 17, 18, 19)),  # UnionPay
    ("50", "50", (12, 13, 14, 15, 16, 17, 18, 19)), ("56", "58", (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
)


@dataclass(frozen=True)
class Exceptions:
    """What is kept although it looks like personal data."""

    private_ips: bool = True  # private, loopback, link-local, documentation and reserved ranges
    examples: bool = True  # example domains, fictional phone numbers, test cards, specimen IBANs
    domains: tuple[str, ...] = ()  # more e-mail domains kept, with their subdomains
    values: frozenset[str] = field(default_factory=frozenset)  # literal values kept (numbers compared compact)

    def kept_domains(self) -> pa.Array:
        listed = (EXAMPLE_DOMAINS if self.examples else ()) + tuple(d.lower().strip(".") for d in self.domains)
        return pa.array(listed, pa.string())


@dataclass(frozen=True)
class Detector:
    name: str
    pattern: str
    validate: Callable[[Matches, Exceptions], np.ndarray]  # one bool per match: is it personal data?


EXTRA = "pii"  # the install extra with phonenumbers, python-stdnum and tldextract (pyproject.toml)


def require_libraries() -> None:
    """MissingExtra (exit 2, naming ``curate[pii]``) unless the libraries the checks use are
    installed; called before any work."""
    for module in ("phonenumbers", "stdnum"):
        import_extra(module, EXTRA, "stage 'pii'")
    domains.require_suffix_list(EXTRA, "stage 'pii'")


def _mask(arr: pa.Array) -> np.ndarray:
    return pc.fill_null(arr, False).to_numpy(zero_copy_only=False)


def _before_matches(m: Matches, pattern: str) -> np.ndarray:
    return _mask(pc.match_substring_regex(m.before, pattern))


def _digit_adjacent(m: Matches) -> np.ndarray:
    return _before_matches(m, _DIGITS_BEFORE) | _mask(pc.match_substring_regex(m.after, _DIGITS_AFTER))


def compact(values: Iterable[str]) -> list[str]:
    """Numbers without the spaces, dots, hyphens, slashes and brackets they are printed with."""
    return [re.sub(r"[\s.\-/()]", "", v) for v in values]


def _in_values(compacted: list[str], exc: Exceptions) -> np.ndarray:
    return np.array([c in exc.values for c in compacted], dtype=bool)


def _each(values: list[str], test: Callable[[str], bool]) -> np.ndarray:
    return np.fromiter((test(v) for v in values), dtype=bool, count=len(values))


def _top_level_domains() -> pa.Array:
    """Top-level domains of the Public Suffix List, including those listed only by a wildcard
    rule (`*.bd`, `*.np`: every name under them is a suffix, so the TLD exists)."""
    rules = domains.suffix_rules()
    wildcard = {p for p in rules.wildcard_parents.to_pylist() if "." not in p}
    return pa.array(sorted(rules.top_level | wildcard), pa.string())


def validate_email(m: Matches, exc: Exceptions) -> np.ndarray:
    text = pc.utf8_lower(m.text)
    domain = pc.replace_substring_regex(text, r"^.*@", "")
    tld = pc.replace_substring_regex(domain, r"^.*\.", "")
    ok = _mask(pc.is_in(tld, value_set=_top_level_domains()))
    kept = domains.HashedSet(exc.kept_domains()).contains_domain_of(domain)
    kept |= _mask(pc.is_in(text, value_set=pa.array(sorted(v.lower() for v in exc.values), pa.string())))
    return ok & ~kept


def _public_ip(exc: Exceptions) -> Callable[[str], bool]:
    def test(value: str) -> bool:
        try:
            ip = ipaddress.ip_address(value)
        except ValueError:
            return False
        if value in exc.values:
            return False
        return not exc.private_ips or (ip.is_global and not ip.is_multicast)
    return test


def validate_ipv4(m: Matches, exc: Exceptions) -> np.ndarray:
    version = _before_matches(m, VERSION_BEFORE)
    # a dotted quad opening a line and followed by a heading's "." or a word is a section or
    # version number (`5.3.3.1. Format`, `4.0.11.1 will be released`); one followed by a dot and
    # a letter is part of a host name (`1.0.0.127.in-addr.arpa`)
    heading = _before_matches(m, _LINE_START) & _mask(pc.match_substring_regex(m.after, _HEADING_AFTER))
    hostname = _mask(pc.match_substring_regex(m.after, _HOSTNAME_AFTER))
    return _each(m.text.to_pylist(), _public_ip(exc)) & ~version & ~heading & ~hostname


def validate_ipv6(m: Matches, exc: Exceptions) -> np.ndarray:
    has_digit = _mask(pc.match_substring_regex(m.text, r"\d"))
    # `std::vector`, `Foo::bar`: a word character glued to the candidate means code, not an address
    glued = _before_matches(m, r"\w$") | _mask(pc.match_substring_regex(m.after, r"^\w"))
    rst_literal = _mask(pc.match_substring_regex(m.text, _RST_LITERAL))
    return _each(m.text.to_pylist(), _public_ip(exc)) & has_digit & ~glued & ~rst_literal


def _valid_phone(exc: Exceptions) -> Callable[[str], bool]:
    phonenumbers = import_extra("phonenumbers", EXTRA, "stage 'pii'")

    def test(value: str) -> bool:
        digits = re.sub(r"\D", "", value)
        if value.startswith("+") or value.startswith("00"):
            candidates = [("+" + digits.removeprefix("00") if value.startswith("00") else value, None)]
        elif digits.startswith("0"):
            candidates = [(value, region) for region in ("GB", "DE", "FR", "IN")]
        elif len(digits) == 10 and digits[0] in "6789" and not re.search(r"\d{3}[ .\-]\d{3}[ .\-]\d{4}$", value):
            candidates = [(value, "IN")]
        else:
            candidates = [(value, "US")]
        for text, region in candidates:
            try:
                number = phonenumbers.parse(text, region)
            except phonenumbers.NumberParseException:
                continue
            e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
            # checked before validity: libphonenumber calls some fictional ranges invalid, and
            # then the next country's reading of the same digits might be valid
            if exc.examples and _EXAMPLE_PHONES.match(e164):
                return False
            if phonenumbers.is_valid_number(number):
                return e164 not in exc.values
        return False
    return test


def validate_phone(m: Matches, exc: Exceptions) -> np.ndarray:
    values = m.text.to_pylist()
    context = _before_matches(m, _IDENTIFIER_BEFORE) | _before_matches(m, _IBAN_BEFORE) | _digit_adjacent(m)
    # section, clause and version numbers (`Clause 252.227-7013`), a citation's subdivision after
    # the number (`252.227-7013 (c) (1)`), a ZIP code after a US state (`Boston, MA 02110-1301`)
    context |= _before_matches(m, VERSION_BEFORE) | _mask(pc.match_substring_regex(m.after, _CITATION_AFTER))
    context |= _before_matches(m, _ZIP_BEFORE) & _mask(pc.match_substring_regex(m.text, _ZIP))
    digits = compact(values)
    runs = np.array([len(c) >= 6 and any(c in r for r in _DIGIT_RUNS) for c in digits], dtype=bool)
    return _each(values, _valid_phone(exc)) & ~context & ~runs & ~_in_values(digits, exc)


def _luhn(digits: str) -> bool:
    luhn = import_extra("stdnum.luhn", EXTRA, "stage 'pii'")

    return luhn.is_valid(digits)


def _card_issuer(digits: str) -> bool:
    return any(len(digits) in lengths and lo <= digits[: len(lo)] <= hi for lo, hi, lengths in _CARD_ISSUERS)


def validate_card(m: Matches, exc: Exceptions) -> np.ndarray:
    digits = compact(m.text.to_pylist())
    context = _before_matches(m, _IDENTIFIER_BEFORE) | _digit_adjacent(m)
    example = np.array([exc.examples and c in EXAMPLE_CARDS for c in digits], dtype=bool)
    valid = _each(digits, lambda c: 13 <= len(c) <= 19 and _card_issuer(c) and _luhn(c))
    return valid & ~context & ~example & ~_in_values(digits, exc)


def validate_iban(m: Matches, exc: Exceptions) -> np.ndarray:
    iban = import_extra("stdnum.iban", EXTRA, "stage 'pii'")

    codes = compact(m.text.to_pylist())
    example = np.array([exc.examples and c in EXAMPLE_IBANS for c in codes], dtype=bool)
    return _each(codes, iban.is_valid) & ~example & ~_in_values(codes, exc)


# Searched in this order, each on the text left by the previous ones (so the digits of an
# IBAN or an e-mail's domain are not seen again as a phone number or an IP).
DETECTORS: dict[str, tuple[Detector, ...]] = {
    "email": (Detector("email", _EMAIL, validate_email),),
    "iban": (Detector("iban", _IBAN, validate_iban),),
    "credit_card": (Detector("credit_card", _CARD, validate_card),),
    "ip": (Detector("ipv4", _IPV4, validate_ipv4), Detector("ipv6", _IPV6, validate_ipv6)),
    "phone": (Detector("phone", _PHONE, validate_phone),),
}


def candidate_rows(text: pa.Array, detectors: Iterable[Detector]) -> np.ndarray:
    """The rows in which some detector's pattern matches: one RE2 pass with all patterns as
    alternatives (one DFA, about as fast as a single pattern), so that each detector then
    scans only these rows, a small share of a web corpus."""
    pattern = "|".join(f"(?:{d.pattern})" for d in detectors)
    return np.flatnonzero(_mask(pc.match_substring_regex(text, pattern)))
