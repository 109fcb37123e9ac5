"""Built-in personal-data and secret detectors for swapcheck.redact: each maps text to spans."""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator

Span = tuple[int, int]
Detector = Callable[[str], Iterator[Span]]

# Every pattern below is linear in the input: character classes are bounded or end at the first
# character outside the class, optional separators are single characters that cannot be confused
# with the repeated element, and look-behinds stop a match from starting inside a longer token.
# Validation that a regex cannot express (Luhn, mod-97, ipaddress, entropy) happens in Python.

_ASCII_WORD_AFTER = re.compile(r"[A-Za-z0-9_]")


def _glued_after(text: str, end: int) -> bool:
    """True when ``text[end]`` continues an ASCII word (letter, digit or underscore)."""
    return end < len(text) and _ASCII_WORD_AFTER.match(text, end) is not None


# --------------------------------------------------------------------------------------- EMAIL

# Anchored on the literal "@" (a fast substring scan); the local part is then matched backwards
# from the "@" inside a 64-character window.
_EMAIL_DOMAIN_RE = re.compile(
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_EMAIL_LOCAL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+\-@])[A-Za-z0-9_%+\-](?:[A-Za-z0-9._%+\-]{0,62}[A-Za-z0-9_%+\-])?\Z"
)


def find_emails(text: str) -> Iterator[Span]:
    """ASCII e-mail addresses ``local@domain.tld``.

    The local part is 1-64 characters of letters, digits and ``. _ % + -`` (so plus-addressing
    ``ana+billing@…`` is one address), neither starting nor ending with a dot; the domain is 1-8
    dot-separated labels (letters, digits, inner hyphens) followed by an alphabetic TLD of 2-24
    letters. Not matched: ``a@b`` (no dot in the domain), ``@handle`` (no local part), and an
    address glued to a preceding ASCII word character. Non-ASCII (IDN) addresses are not matched.
    Surrounding non-ASCII text (``メールはtaro@example.jpまで``) does not prevent a match.
    """
    for m in _EMAIL_DOMAIN_RE.finditer(text):
        at = m.start()
        local = _EMAIL_LOCAL_RE.search(text, max(0, at - 64), at)
        if local is not None:
            yield local.start(), m.end()


# ---------------------------------------------------------------------------------------- CARD

# A card candidate is 13-19 contiguous digits, or 2-8 groups of 3-6 digits (the last may be
# shorter: 4222 2222 2222 2) joined by one repeated separator; it starts at a digit not glued
# to a letter, digit or "+ - . , / #".
_CARD_RE = re.compile(
    r"\d(?<![0-9A-Za-z_+\-.,/#]\d)"
    r"(?:\d{12,18}|\d{2,5}(?P<sep>[ \-])\d{3,6}(?:(?P=sep)\d{3,6}){0,5}(?:(?P=sep)\d{1,6})?)"
    r"(?![0-9A-Za-z_])"
)
_DIGIT_GROUP_RE = re.compile(r"\d+")
_CARD_IIN_FIRST = frozenset("23456")


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check over a string of ASCII digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_card(digits: str) -> bool:
    return (
        13 <= len(digits) <= 19
        and digits[0] in _CARD_IIN_FIRST
        and digits.count(digits[0]) != len(digits)
        and luhn_ok(digits)
    )


def _card_in_segment(groups: list[re.Match[str]]) -> Span | None:
    """Whole segment first, then shorter prefixes, then shorter suffixes; first valid wins."""
    n = len(groups)
    ends = [0]
    for g in groups:
        ends.append(ends[-1] + g.end() - g.start())
    windows = [(0, n)] + [(0, k) for k in range(n - 1, 0, -1)] + [(k, n) for k in range(1, n)]
    for lo, hi in windows:
        if (
            13 <= ends[hi] - ends[lo] <= 19
            and groups[lo].group()[0] in _CARD_IIN_FIRST
            and _is_card("".join(g.group() for g in groups[lo:hi]))
        ):
            return groups[lo].start(), groups[hi - 1].end()
    return None


def find_cards(text: str) -> Iterator[Span]:
    """Payment card numbers: 13-19 digits passing the Luhn check.

    Digits are either contiguous (``4111111111111111``) or grouped in 3-6 digit groups (the
    last may be shorter, ``4222 2222 2222 2``) by one separator used consistently, a space or a
    dash (``4111 1111 1111 1111``, ``5500-0000-0000-0004``, ``3400 000000 00009``). The first
    digit must be 2-6 (issuer ranges of Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
    Maestro, Mir) and the digits must not all be equal (``0000 0000 0000 0000`` passes Luhn but
    is a placeholder). A grouped number with extra groups around it (an expiry ``12 27``, a
    label number) is found by dropping trailing, then leading groups (at most 8 groups are
    considered at once). Not matched: Luhn-invalid numbers, numbers glued to a preceding
    letter, digit, ``+ - . , / #`` or to a following letter.
    """
    pos = 0
    while (m := _CARD_RE.search(text, pos)) is not None:
        if m.group("sep") is None:
            if _is_card(m.group()):
                yield m.span()
            pos = m.end()
            continue
        groups = list(_DIGIT_GROUP_RE.finditer(text, m.start(), m.end()))
        span = _card_in_segment(groups)
        if span is not None:
            yield span
            pos = span[1]
        else:  # the last group may open the next number ("000 4000-0000-0000-6")
            pos = groups[-1].start()


# ---------------------------------------------------------------------------------------- IBAN

_IBAN_RE = re.compile(
    r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}"
    r"(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)"
    r"(?![A-Za-z0-9])"
)


_IBAN_LETTER_VALUES = str.maketrans({chr(65 + i): str(10 + i) for i in range(26)})


def iban_ok(compact: str) -> bool:
    """ISO 13616 check: 15-34 characters, moved country code + check digits, value mod 97 == 1."""
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = (compact[4:] + compact[:4]).translate(_IBAN_LETTER_VALUES)
    return rearranged.isdigit() and int(rearranged) % 97 == 1


def find_ibans(text: str) -> Iterator[Span]:
    """International bank account numbers (ISO 13616), upper-case only.

    Two letters (country), two check digits, then 11-30 letters/digits, either contiguous
    (``GB82WEST12345698765432``) or grouped in fours by single spaces with a shorter last group
    (``DE89 3704 0044 0532 0130 00``). The whole must pass the mod-97 check, so an IBAN with one
    wrong check digit is not matched. If a grouped match fails, up to two trailing groups are
    dropped (an upper-case word after the IBAN). Country-specific lengths are not checked.
    """
    for m in _IBAN_RE.finditer(text):
        candidate = m.group()
        for _ in range(3):
            if iban_ok(candidate.replace(" ", "")):
                yield m.start(), m.start() + len(candidate)
                break
            cut = candidate.rfind(" ")
            if cut <= 4:
                break
            candidate = candidate[:cut]


# ------------------------------------------------------------------------------------------ IP

_IPV4_RE = re.compile(
    r"\d(?<![0-9A-Za-z.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![0-9A-Za-z]|\.\d)"
)
# IPv6 candidates are anchored on a colon next to a hex digit or another colon (a fast literal
# scan), then re-matched from the start of the surrounding hex/colon/dot run.
_IPV6_HINT_RE = re.compile(r":(?<=[0-9A-Fa-f:]:)|:(?=[0-9A-Fa-f:])")
_IPV6_RE = re.compile(r"(?=[0-9A-Fa-f]{0,4}::?[0-9A-Fa-f])[0-9A-Fa-f:.]{2,45}(?![0-9G-Zg-z_])")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")
_IPV6_GLUE_BEFORE = re.compile(r"[0-9A-Za-z:.]")


def find_ips(text: str) -> Iterator[Span]:
    """IPv4 dotted quads and IPv6 addresses, each confirmed by :mod:`ipaddress`.

    IPv4: four 1-3 digit parts with every octet <= 255 and no leading zeros, not glued to letters,
    digits or a further ``.digit`` (``10.0.0.256``, ``1.2.3``, ``1.2.3.4.5`` and ``v1.2.3.4`` are
    not addresses). IPv6: full, compressed (``::``) and IPv4-mapped forms (``::ffff:192.0.2.1``)
    of up to 45 characters; the bare ``::`` is not matched, a trailing ``.`` or ``:`` from the
    sentence is not part of the address. Zone ids (``%eth0``) and prefixes (``/64``) stay visible.
    """
    for m in _IPV4_RE.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        yield m.span()
    done = 0
    for hint in _IPV6_HINT_RE.finditer(text):
        start = hint.start()
        if start < done:
            continue
        floor = max(0, start - 45)
        while start > floor and text[start - 1] in _IPV6_CHARS:
            start -= 1
        m = _IPV6_RE.match(text, start)
        done = m.end() if m is not None else hint.end()
        if m is None or (start and _IPV6_GLUE_BEFORE.match(text, start - 1)):
            continue
        candidate = m.group()
        while candidate and candidate[-1] in ".:" and not candidate.endswith("::"):
            candidate = candidate[:-1]
        if candidate.count(":") < 2 or candidate == "::":
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        yield m.start(), m.start() + len(candidate)


# -------------------------------------------------------------------------------------- SECRET

_SPECIFIC_SECRET_RE = re.compile(
    r"(?:"
    r"(?P<sk>sk-[A-Za-z0-9_\-]{20,})"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Za-z])"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|(?P<slack>xox[abpr]-[A-Za-z0-9\-]{10,})"
    r"|AIza[0-9A-Za-z_\-]{35}(?![0-9A-Za-z_\-])"
    r"|eyJ[A-Za-z0-9_\-]{4,}\.ey[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"
    r")"
)
_BEARER_RE = re.compile(r"(?:Bearer|bearer|BEARER)[ \t]+([A-Za-z0-9\-._~+/]+=*)")
_TOKEN_GLUE_BEFORE = re.compile(r"[A-Za-z0-9_\-]")
_GENERIC_TOKEN_RE = re.compile(r"(?<![A-Za-z0-9_\-+/])[A-Za-z0-9_\-+/]{32,}={0,2}")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_WORDISH_RE = re.compile(r"[A-Z]?[a-z]{3,}")
_LEADING_PATH_WORD_RE = re.compile(r"[a-z0-9_\-]{0,15}/")
_HAS_DIGIT = re.compile(r"\d")
_HAS_LETTER = re.compile(r"[A-Za-z]")
MIN_ENTROPY_BITS = 3.5
MAX_WORDISH_SHARE = 0.5


def shannon_entropy(token: str) -> float:
    """Shannon entropy of the token's character distribution, in bits per character."""
    n = len(token)
    return -sum(c / n * math.log2(c / n) for c in Counter(token).values()) if n else 0.0


def _wordish_share(token: str) -> float:
    """Share of characters that sit in word-like runs (``Profile``, ``settings``)."""
    return sum(len(w) for w in _WORDISH_RE.findall(token)) / len(token)


def _random_looking(token: str) -> bool:
    return bool(_HAS_DIGIT.search(token)) and _wordish_share(token) <= MAX_WORDISH_SHARE


def _generic_secret(token: str) -> bool:
    core = token.rstrip("=")
    return (
        len(core) >= 32
        and any(c.isupper() for c in core)
        and any(c.islower() for c in core)
        and any(c.isdigit() for c in core)
        and _UUID_RE.fullmatch(core) is None
        and _wordish_share(core) <= MAX_WORDISH_SHARE
        and shannon_entropy(core) >= MIN_ENTROPY_BITS
    )


def find_secrets(text: str) -> Iterator[Span]:
    """API keys, tokens and credentials.

    Provider formats (not glued to a preceding letter, digit, ``_`` or ``-``):
    ``sk-…`` / ``sk-proj-…`` / ``sk-ant-…`` with >= 20 further ``[A-Za-z0-9_-]`` containing a digit
    and not made of words; ``AKIA``/``ASIA`` + 16 ``[0-9A-Z]`` (AWS); ``ghp_ gho_ ghs_ ghu_ ghr_`` +
    >= 36 alphanumerics and ``github_pat_`` + >= 22 (GitHub); ``xoxa- xoxb- xoxp- xoxr-`` + >= 10
    ``[A-Za-z0-9-]`` containing a digit (Slack); ``AIza`` + exactly 35 ``[0-9A-Za-z_-]`` (Google);
    JWTs ``eyJ…​.ey…​.sig``. ``Bearer <token>``: only the token is reported (the word stays
    visible) when it has >= 12 characters of ``[A-Za-z0-9-._~+/]`` (plus ``=`` padding) with a
    digit and a letter. Generic: a run of >= 32 ``[A-Za-z0-9_-+/]`` (plus ``=`` padding) that mixes
    upper case, lower case and digits, has Shannon entropy >= 3.5 bits/char and at most half of
    its characters in word-like runs (``getUserProfileSettingsForAccount2`` is code, not a key);
    leading lower-case URL path segments (``com/v1/``) are not part of the token.
    Deliberately not secrets: hex digests (no upper/lower mix, so md5/sha1/sha256 stay visible)
    and UUIDs, which are record/request identifiers reviewers need to correlate, not credentials.
    """
    for m in _SPECIFIC_SECRET_RE.finditer(text):
        token = m.group()
        if m.start() and _TOKEN_GLUE_BEFORE.match(text, m.start() - 1):
            continue
        if m.group("sk") and not _random_looking(token[3:]):
            continue
        if m.group("slack") and not _HAS_DIGIT.search(token):
            continue
        yield m.span()
    for m in _BEARER_RE.finditer(text):
        if m.start() and _TOKEN_GLUE_BEFORE.match(text, m.start() - 1):
            continue
        token = m.group(1).rstrip(".")
        if len(token) >= 12 and _HAS_DIGIT.search(token) and _HAS_LETTER.search(token):
            yield m.start(1), m.start(1) + len(token)
    for m in _GENERIC_TOKEN_RE.finditer(text):
        start, token = m.start(), m.group()
        while "/" in token:
            lead = _LEADING_PATH_WORD_RE.match(token)
            if lead is None:
                break
            start += lead.end()
            token = token[lead.end() :]
        if _generic_secret(token):
            yield start, start + len(token)


# --------------------------------------------------------------------------------------- PHONE

_PHONE_SEP = r"(?:\)[ .\-]?|[ .\-]\(?|\()"
# Characters that glue a number to what precedes it ("+" and "(" may instead open the number).
_PHONE_GLUE = "0-9A-Za-z_#@$€£¥.,/\\-=&%*"
_PHONE_RUN_RE = re.compile(
    r"\d(?<![" + _PHONE_GLUE + r"]\d)(?<!\d:\d)(?:" + _PHONE_SEP + r"?\d){7,}"
)
_PHONE_GLUE_BEFORE = re.compile(r"[+" + _PHONE_GLUE + r"]")
_DATE_CHUNK_RE = re.compile(
    r"(?<![^ ])(?:\d{4}([\-./])\d{1,2}\1\d{1,2}|\d{1,2}([\-./])\d{1,2}\2\d{2,4})(?![^ ])"
)
_MAX_PHONE_CHARS = 48
_SEP_SPLIT_RE = re.compile(r"\d+")


def _phone_ok(s: str) -> int | None:
    """Offset at which the phone in ``s`` starts (a stray ``(`` is skipped), or None."""
    lo = 1 if s.startswith("(") and ")" not in s else 0
    t = s[lo:]
    opens, closes = t.count("("), t.count(")")
    if opens != closes or opens > 1 or (opens and t.index("(") > t.index(")")):
        return None
    groups = _SEP_SPLIT_RE.findall(t)
    seps = _SEP_SPLIT_RE.split(t)[1:-1]
    digits = "".join(groups)
    n = len(digits)
    intl = t.startswith(("+", "(+"))
    if not intl and digits.startswith("00") and not digits.startswith("000"):
        intl, n = True, n - 2
    if digits.count(digits[0]) == len(digits):
        return None
    sizes = [len(g) for g in groups]
    singles = [i for i, size in enumerate(sizes) if size == 1]
    if intl:
        if not 8 <= n <= 15 or len(singles) > 2:
            return None
        return lo
    if not 9 <= n <= 12 or len(groups) < 2 or max(sizes) > 8:
        return None
    if singles and singles != [0]:
        return None
    if len(groups) == 2 and not (groups[0].startswith("0") or opens):
        return None  # 2024-000123, 12345-67890: reference numbers, not phones
    if all(sep == "." for sep in seps) and (
        len(groups) == 2 or (len(groups) == 4 and max(sizes) <= 3)
    ):
        return None  # a decimal number, an invalid IPv4 address or a version
    if (
        sizes[0] <= 3
        and not groups[0].startswith("0")
        and all(size == 3 for size in sizes[1:])
        and (
            all(sep == "." for sep in seps)
            or (all(sep == " " for sep in seps) and len(groups) >= 4)
        )
    ):
        return None  # thousands grouping: 1.234.567.890, 12 345 678 901
    return lo


def _phones_in_run(text: str, run_start: int, run: str) -> Iterator[Span]:
    """Split the run at date-shaped pieces; each remaining stretch is checked as one number."""
    pos = 0
    for cut in [*_DATE_CHUNK_RE.finditer(run), None]:
        stop = len(run) if cut is None else cut.start()
        lo, hi = pos, stop
        while lo < hi and run[lo] == " ":
            lo += 1
        while hi > lo and run[hi - 1] == " ":
            hi -= 1
        if 0 < hi - lo <= _MAX_PHONE_CHARS:
            offset = _phone_ok(run[lo:hi])
            if offset is not None and not _glued_after(text, run_start + hi):
                yield run_start + lo + offset, run_start + hi
        if cut is not None:
            pos = cut.end()


def find_phones(text: str) -> Iterator[Span]:
    """Telephone numbers, international and national.

    A candidate is a run of digits where consecutive digits are separated by at most one of
    ``space . -``, a parenthesised group (``(415) ``, `` (0)``) or nothing; it may start with
    ``+`` or ``(+``, and must not be glued to a preceding letter, digit or one of
    ``_ + # @ $ € £ ¥ . , / - = & % *`` or to ``digit:`` (times), nor followed by a letter.
    Space-separated pieces shaped like dates (``2026-11-25``, ``25.11.2026``) split the run.
    International (``+`` or ``00`` prefix): 8-15 digits, at most two one-digit groups
    (``+33 6 12 34 56 78``, ``+49 (0)30 1234 5678``, ``+14155550132``). National: 9-12 digits in
    >= 2 groups of <= 8 digits with at most a leading one-digit group (``1-800-555-0199``), and
    two-group numbers must start with a trunk ``0`` or have parentheses (``0171 2345678``).
    Rejected: dates, times, order numbers (``#984732``, ``A-1234``), short or ungrouped national
    numbers, decimals (``3.14159265``), dotted quads, thousands groupings (``1.234.567.890``,
    ``12 345 678 901``), prices (``1,299.00``) and card numbers (> 12 national digits).
    """
    for m in _PHONE_RUN_RE.finditer(text):
        start = m.start()
        if start >= 2 and text.startswith("(+", start - 2):
            start -= 2
        elif start and text[start - 1] in "+(":
            start -= 1
        if start != m.start() and start and _PHONE_GLUE_BEFORE.match(text, start - 1):
            continue  # "a+49 …", "++49 …", "#(415) …"
        yield from _phones_in_run(text, start, text[start : m.end()])


PRIMARY_DETECTORS: tuple[tuple[str, Detector], ...] = (
    ("SECRET", find_secrets),
    ("EMAIL", find_emails),
    ("IBAN", find_ibans),
    ("CARD", find_cards),
    ("IP", find_ips),
)
"""Detectors run on the original text; overlaps between them resolve earlier/longer first."""

PHONE_DETECTOR: tuple[str, Detector] = ("PHONE", find_phones)
"""Runs last, on the text with the primary findings masked, so it never sees card/IBAN digits."""
