"""Make the labelled PII evaluation set, bench/data/pii_eval.jsonl (committed; rerun to regenerate).

Per type (email, ip, phone, credit_card, iban): positives (a real-looking value of that type in
a sentence) and near-misses (text that only looks like one: version strings, dates, ISBNs,
UUIDs, order and tracking numbers, example domains and numbers, checksum failures), each in
prose in English, German, French, Spanish and Hindi and in code (Python, JSON, a log line, a
shell command). Every record holds one value; ``expected`` is the text after ``pii`` in replace
mode (the value replaced by its placeholder; unchanged for a near-miss). Values are random
(seeded) and checked with the same kind of validator the stage uses, so a positive is a valid
number and a near-miss's checksum really fails.

    python bench/pii_eval_set.py            # writes bench/data/pii_eval.jsonl
"""

from __future__ import annotations

import ipaddress
import json
import random
import string
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "data" / "pii_eval.jsonl"

from curate.text.pii import DEFAULT_PLACEHOLDERS, EXAMPLE_CARDS  # noqa: E402

N_POSITIVES = 80
N_NEAR_MISSES = 80

# {x} is the value. Prose in five languages and four kinds of code.
TEMPLATES = {
    "email": [
        ("en", "For questions about the order, write to {x} and we will answer within two days."),
        ("de", "Bei Fragen zur Bestellung schreiben Sie bitte an {x}, wir antworten innerhalb von zwei Tagen."),
        ("fr", "Pour toute question, écrivez-moi à {x} ou passez au bureau."),
        ("es", "Si tienes dudas, escríbeme a {x} antes del viernes."),
        ("hi", "अधिक जानकारी के लिए {x} पर ईमेल करें।"),
        ("py", 'ADMINS = [("Site admin", "{x}")]  # settings.py'),
        ("json", '{{"name": "Dana", "contact": "{x}", "active": true}}'),
        ("log", "2024-03-11 08:15:02 INFO login ok user={x} session=4f2a"),
        ("sh", "git config --global user.email {x}"),
    ],
    "ip": [
        ("en", "The attack came from {x}, which we have since blocked at the firewall."),
        ("de", "Der Zugriff erfolgte von der Adresse {x} um 14:32 Uhr."),
        ("fr", "La connexion venait de {x} selon le journal du serveur."),
        ("es", "El servidor respondió desde {x} con un error 502."),
        ("hi", "सर्वर का पता {x} है।"),
        ("py", 'resp = requests.get("http://{x}/status", timeout=5)'),
        ("json", '{{"client_ip": "{x}", "status": 403}}'),
        ("log", '{x} - - [11/Mar/2024:08:15:02 +0000] "GET /index.html HTTP/1.1" 200 5120'),
        ("sh", "ssh deploy@{x} 'sudo systemctl restart nginx'"),
    ],
    "phone": [
        ("en", "You can reach me on {x} most evenings after six."),
        ("de", "Sie erreichen mich unter {x}, am besten vormittags."),
        ("fr", "Appelez-moi au {x} si le colis n'arrive pas."),
        ("es", "Llámame al {x} cuando llegues a la estación."),
        ("hi", "कृपया मुझे {x} पर कॉल करें।"),
        ("py", 'CONTACT_PHONE = "{x}"'),
        ("json", '{{"customer": "R. Patel", "phone": "{x}"}}'),
        ("log", "2024-03-11 08:15:02 WARN sms delivery failed to={x} retry=3"),
        ("sh", 'curl -d "to={x}&body=hello" localhost:8080/sms'),
    ],
    "credit_card": [
        ("en", "Please charge the deposit to my card {x}, expiry 08/27."),
        ("de", "Bitte buchen Sie den Betrag von meiner Karte {x} ab."),
        ("fr", "Voici ma carte : {x}, elle expire en 2027."),
        ("es", "Mi tarjeta es la {x} y caduca en 2026."),
        ("hi", "मेरा कार्ड नंबर {x} है।"),
        ("py", 'payment = {{"card": "{x}", "cvc": "123"}}'),
        ("json", '{{"pan": "{x}", "exp": "09/28"}}'),
        ("log", "2024-03-11 08:15:02 ERROR charge declined card={x} amount=49.90"),
        ("sh", "./charge --card {x} --amount 1999"),
    ],
    "iban": [
        ("en", "Please transfer the rent to {x} by the first of the month."),
        ("de", "Bitte überweisen Sie den Betrag auf das Konto {x}."),
        ("fr", "Merci de virer la somme sur le compte {x} avant lundi."),
        ("es", "Haz la transferencia a la cuenta {x}, por favor."),
        ("hi", "कृपया राशि खाते {x} में जमा करें।"),
        ("py", 'PAYOUT_ACCOUNT = "{x}"'),
        ("json", '{{"beneficiary": "M. Keller", "iban": "{x}"}}'),
        ("log", "2024-03-11 08:15:02 INFO sepa transfer queued iban={x} eur=250.00"),
        ("sh", "./payout --iban '{x}' --amount 250"),
    ],
}

FIRST = ["anna", "jonas", "marie", "li", "omar", "priya", "lucas", "sofia", "kenji", "fatima", "noah", "elena"]
LAST = ["schmidt", "dubois", "garcia", "sharma", "okafor", "nguyen", "rossi", "kowalski", "smith", "tanaka"]
MAIL_DOMAINS = ["gmail.com", "web.de", "orange.fr", "yahoo.co.uk", "outlook.com", "gmx.net", "uni-heidelberg.de",
                "rediffmail.com", "acme-corp.io", "mail.ru", "protonmail.ch", "city.gov", "telefonica.es"]


def _email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}",
                        f"{first}_{last}", f"{first}+news", f"{last}.{first}.{rng.randint(1970, 2005)}"])
    if rng.random() < 0.15:
        local = local.capitalize()
    return f"{local}@{rng.choice(MAIL_DOMAINS)}"


def _ipv4(rng: random.Random) -> str:
    while True:
        ip = ipaddress.IPv4Address(rng.getrandbits(32))
        if ip.is_global and not ip.is_multicast:
            return str(ip)


def _ipv6(rng: random.Random) -> str:
    while True:
        value = (0x2 << 124) | rng.getrandbits(124)  # 2000::/3, the global unicast block
        if rng.random() < 0.5:
            value &= ~(((1 << 64) - 1) << 16)  # a run of zero groups, written `::`
        ip = ipaddress.IPv6Address(value)
        if ip.is_global and not ip.is_multicast and any(c.isdigit() for c in ip.compressed):
            return ip.compressed if rng.random() < 0.7 else ip.exploded


def _ip(rng: random.Random) -> str:
    return _ipv6(rng) if rng.random() < 0.3 else _ipv4(rng)


PHONE_REGIONS = ["US", "CA", "GB", "DE", "FR", "IN"]


def _phone(rng: random.Random) -> str:
    import phonenumbers as pn

    region = rng.choice(PHONE_REGIONS)
    kind = rng.choice([pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE])
    example = pn.example_number_for_type(region, kind)
    nsn = pn.national_significant_number(example)
    while True:
        keep = 3 if region in ("US", "CA") else 2
        digits = nsn[:keep] + "".join(rng.choice(string.digits) for _ in nsn[keep:])
        number = pn.parse(f"+{example.country_code}{digits}")
        if not pn.is_valid_number(number) or (region in ("US", "CA") and digits[3:6] == "555"):
            continue
        style = rng.choice(["national", "national", "international", "e164"])
        if style == "national":
            text = pn.format_number(number, pn.PhoneNumberFormat.NATIONAL)
            if region in ("US", "CA") and rng.random() < 0.5:
                text = rng.choice(["{}-{}-{}", "{}.{}.{}"]).format(digits[:3], digits[3:6], digits[6:])
            return text
        if style == "international":
            return pn.format_number(number, pn.PhoneNumberFormat.INTERNATIONAL)
        return pn.format_number(number, pn.PhoneNumberFormat.E164)


def _luhn_complete(body: str) -> str:
    from stdnum import luhn

    return body + luhn.calc_check_digit(body)


CARD_PREFIXES = [("4", 16), ("4", 13), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15),
                 ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16)]


def _group_card(digits: str, rng: random.Random) -> str:
    sep = rng.choice(["", " ", "-"])
    if not sep:
        return digits
    if len(digits) == 15 or len(digits) == 14:
        return sep.join([digits[:4], digits[4:10], digits[10:]])
    if len(digits) == 16:
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


def _card(rng: random.Random) -> str:
    while True:
        prefix, length = rng.choice(CARD_PREFIXES)
        body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
        digits = _luhn_complete(body)
        if digits not in EXAMPLE_CARDS:
            return _group_card(digits, rng)


# BBAN layouts (ISO 13616 registry): n = digit, a = upper-case letter, c = either.
IBAN_LAYOUTS = {"DE": "18n", "FR": "10n11c2n", "GB": "4a14n", "ES": "20n", "IT": "1a10n12c", "NL": "4a10n",
                "BE": "12n", "AT": "16n", "CH": "5n12c", "PL": "24n"}


def _bban(layout: str, rng: random.Random) -> str:
    import re

    out = []
    for count, kind in re.findall(r"(\d+)([nac])", layout):
        pool = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}[kind]
        out.append("".join(rng.choice(pool) for _ in range(int(count))))
    return "".join(out)


def _iban(rng: random.Random, valid: bool = True) -> str:
    from stdnum import iban

    country = rng.choice(sorted(IBAN_LAYOUTS))
    bban = _bban(IBAN_LAYOUTS[country], rng)
    check = iban.calc_check_digits(country + "00" + bban)
    if not valid:
        check = f"{(int(check) + rng.randint(1, 96)) % 97 + 2:02d}"
    compact = country + check + bban
    if valid != iban.is_valid(compact):
        return _iban(rng, valid)
    return iban.format(compact) if rng.random() < 0.6 else compact


POSITIVE = {"email": _email, "ip": _ip, "phone": _phone, "credit_card": _card, "iban": _iban}


def _near_misses(rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Per type, (kind, text) near-misses, each a complete sentence or code line."""
    r = rng.randint
    bad_luhn = _luhn_complete("4" + "".join(rng.choice(string.digits) for _ in range(14)))
    bad_luhn = bad_luhn[:-1] + str((int(bad_luhn[-1]) + r(1, 9)) % 10)
    isbn13 = _luhn_complete("978" + "".join(rng.choice(string.digits) for _ in range(9)))  # a 13-digit look-alike
    return {
        "email": [
            ("localhost", f"Run the job as {rng.choice(FIRST)}@localhost and check the mail spool."),
            ("retina asset", f"<img src=\"icon-{rng.choice(FIRST)}@{r(2, 3)}x.png\" alt=\"logo\">"),
            ("example domain", f"Use {rng.choice(FIRST)}@example.com as the sender in the tests."),
            ("example domain", f"Voir l'exemple : {rng.choice(FIRST)}.{rng.choice(LAST)}@example.org pour la config."),
            ("mention", f"Thanks @{rng.choice(FIRST)} for the review, merged in #{r(100, 9999)}."),
            ("npm version", f"npm install lodash@{r(1, 4)}.{r(0, 17)}.{r(0, 21)} --save"),
            ("no tld", f"Die Adresse {rng.choice(FIRST)}@intranet funktioniert nur im Büro."),
            ("internal host", f"scp backup.tar {rng.choice(FIRST)}@db{r(1, 9)}.internal:/srv"),
            ("decorator", f"@{rng.choice(['property', 'staticmethod', 'lru_cache'])}\ndef value(self): return {r(1, 99)}"),
            ("test domain", f"El usuario prueba{r(1, 99)}@ejemplo.test no recibe correos."),
            ("at sign", f"Kaufe {r(2, 9)} Äpfel @ {r(1, 3)},{r(10, 99)} € pro Kilo."),
        ],
        "ip": [
            ("version", f"Upgrade to version {r(1, 9)}.{r(0, 20)}.{r(0, 30)}.{r(0, 200)} before the release."),
            ("version", f"Die Firmware v{r(1, 9)}.{r(0, 9)}.{r(0, 9)}.{r(0, 99)} behebt den Fehler."),
            ("version", f"Build {r(1, 9)}.{r(0, 9)}.{r(1, 99)}.{r(0, 250)} está disponible."),
            ("section", f"See section {r(1, 9)}.{r(1, 9)}.{r(1, 9)}.{r(1, 9)} of the standard."),
            ("private", f"The router is at 192.168.{r(0, 255)}.{r(1, 254)} on the home network."),
            ("private", f"ssh admin@10.{r(0, 255)}.{r(0, 255)}.{r(1, 254)}"),
            ("loopback", f"curl http://127.0.0.{r(1, 9)}:{r(1024, 9000)}/health"),
            ("documentation", f"Beispiel: 192.0.2.{r(1, 254)} oder 2001:db8::{r(1, 999)}"),
            ("too many parts", f"OID {r(1, 2)}.{r(1, 9)}.{r(1, 9)}.{r(1, 9)}.{r(1, 9)}.{r(1, 9)} is registered."),
            ("out of range", f"Le code {r(256, 999)}.{r(0, 255)}.{r(0, 255)}.{r(0, 255)} n'est pas une adresse."),
            ("date", f"Am {r(1, 28):02d}.{r(1, 12):02d}.{r(2000, 2030)} um {r(0, 23):02d}:{r(0, 59):02d} Uhr."),
            ("c++ scope", f"std::vector<int> v({r(1, 99)}); std::sort(v.begin(), v.end());"),
            ("time", f"Run started {r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d} and ended later."),
            ("mac address", "MAC " + ":".join(f"{r(0, 255):02x}" for _ in range(6)) + " is on the allow list."),
            ("ipv6 local", f"Link-local fe80::{r(1, 0xffff):x} and loopback ::1 are fine."),
        ],
        "phone": [
            ("date", f"Published {r(2000, 2030)}-{r(1, 12):02d}-{r(1, 28):02d} and updated since."),
            ("date", f"Stand: {r(1, 28):02d}.{r(1, 12):02d}.{r(2000, 2030)}, alle Angaben ohne Gewähr."),
            ("isbn", f"ISBN 978-{r(0, 9)}-{r(10, 99)}-{r(100000, 999999)}-{r(0, 9)} (paperback)"),
            ("isbn", f"ISBN 0-{r(100, 999)}-{r(10000, 99999)}-{r(0, 9)}"),
            ("order number", f"Order no. {r(100, 999)}-{r(1000000, 9999999)}-{r(1000000, 9999999)} has shipped."),
            ("tracking", f"Tracking number: 1Z{r(100, 999)}AA1{r(1000000, 9999999)}{r(0, 9)}"),
            ("uuid", f"request_id=\"{rng.getrandbits(128):032x}\""),
            ("fictional", f"Call 555-01{r(0, 99):02d} for the demo line."),
            ("fictional", f"Ring 020 7946 0{r(0, 999):03d} (the number in the film)."),
            ("price", f"Das Haus kostet {r(100, 999)} {r(100, 999)} {r(100, 999)} Euro."),
            # NANP area codes never start with 0 or 1; with a leading 0 it would be a European trunk prefix
            ("invalid number", f"Call (1{r(10, 99)}) {r(100, 999)}-{r(1000, 9999)} — not a real area code."),
            ("population", f"La ville compte {r(1, 9)} {r(100, 999)} {r(100, 999)} habitants."),
            ("version", f"release {r(1, 9)}.{r(0, 9)}.{r(100, 999)}-{r(1000, 9999)}"),
            ("coordinates", f"lat {r(10, 60)}.{r(100000, 999999)} lon {r(1, 40)}.{r(100000, 999999)}"),
        ],
        "credit_card": [
            ("luhn fails", f"Card {_group_card(bad_luhn, rng)} was rejected."),
            ("test card", f"Use the test card {_group_card(rng.choice(sorted(EXAMPLE_CARDS)), rng)} in staging."),
            ("isbn-13", f"ISBN {isbn13} (hardcover)"),
            ("order number", f"Order #{_luhn_complete('4' + ''.join(rng.choice(string.digits) for _ in range(14)))} confirmed."),
            ("tracking", f"USPS tracking 9400 1{r(100, 999)} {r(1000, 9999)} {r(1000, 9999)} {r(1000, 9999)} {r(10, 99)}"),
            ("timestamp", f"\"ts\": 1{r(100000000000000, 999999999999999)}"),
            ("unknown issuer", f"Ref {_luhn_complete('9' + ''.join(rng.choice(string.digits) for _ in range(14)))}"),
            ("too long", "id " + " ".join(f"{r(1000, 9999)}" for _ in range(5))),
            ("imei", f"IMEI {_luhn_complete('35' + ''.join(rng.choice(string.digits) for _ in range(12)))}"),
        ],
        "iban": [
            ("checksum fails", f"Konto {_iban(rng, valid=False)} ist ungültig."),
            ("checksum fails", f"IBAN {_iban(rng, valid=False)}"),
            ("specimen", "Beispiel-IBAN: DE89 3704 0044 0532 0130 00"),
            ("specimen", "Example: GB82 WEST 1234 5698 7654 32"),
            ("bic", f"BIC {rng.choice(['DEUTDEFF', 'COBADEFFXXX', 'BNPAFRPP', 'NWBKGB2L'])} bitte angeben."),
            ("code", f"Part AB{r(10, 99)} {r(1000, 9999)} {''.join(rng.choice(string.ascii_uppercase) for _ in range(4))} in stock."),
            ("wrong length", f"DE{r(10, 99)} {r(1000, 9999)} {r(1000, 9999)} {r(1000, 9999)}"),
        ],
    }


def make(seed: int = 2026) -> list[dict]:
    """The labelled records, deterministic for `seed`."""
    rng = random.Random(seed)
    records: list[dict] = []
    for pii_type, templates in TEMPLATES.items():
        for i in range(N_POSITIVES):
            lang, template = templates[i % len(templates)]
            value = POSITIVE[pii_type](rng)
            records.append({"type": pii_type, "label": "positive", "kind": lang, "lang": lang, "value": value,
                            "text": template.format(x=value),
                            "expected": template.format(x=DEFAULT_PLACEHOLDERS[pii_type])})
        for i in range(N_NEAR_MISSES):
            choices = _near_misses(rng)[pii_type]
            kind, text = choices[i % len(choices)]
            records.append({"type": pii_type, "label": "near_miss", "kind": kind, "lang": "", "value": "",
                            "text": text, "expected": text})
    for i, rec in enumerate(records):
        rec["id"] = f"pii-{i:04d}"
    return records


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for rec in make():
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()


def score(records: list[dict], texts: list[str], counts: dict[str, list[int]]) -> dict[str, dict[str, float]]:
    """Precision and recall per type of ``pii`` (replace mode) output on the labelled `records`.

    A positive is found (true positive) when the output is exactly ``expected``: its value, and
    nothing else, replaced by its placeholder. Every other match the stage counted, in
    positives or near-misses, is a false positive of the type it was counted as.
    """
    out: dict[str, dict[str, float]] = {}
    for pii_type in POSITIVE:
        tp = fp = fn = 0
        for i, rec in enumerate(records):
            n = counts[pii_type][i]
            if rec["type"] == pii_type and rec["label"] == "positive":
                hit = texts[i] == rec["expected"] and n == 1
                tp += hit
                fn += not hit
                fp += n - 1 if hit else n
            else:
                fp += n
        out[pii_type] = {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
                         "tp": tp, "fp": fp, "fn": fn}
    return out


def load(path: Path = OUT) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]
