"""Redaction of secrets before anything is stored: values of sensitive keys in span tags, span logs
and log attributes, and the secret shapes people leak inside free text.

Applied where records enter (the HTTP and OTLP receivers, the SDK) and again by the sink, the one
writer of ClickHouse, so a producer writing to Kafka directly cannot store a secret either.

Free text is masked for: values after a sensitive key (``key=value``, ``key: value``, ``"key":
value`` with strings or numbers, Python reprs ``'key': 'v'`` and ``key='v'``, environment style
``PGPASSWORD=v``, query strings ``?token=v&...``; a key counts when it contains one of the
Redactor's keys or of :data:`TEXT_KEYS`; command-line flags ``--password v`` too), ``Authorization``
schemes (``Bearer`` and ``Basic`` of any length, ``token``), passwords in URLs
(``scheme://user:pass@`` and ``scheme://:pass@``), PEM private keys, JWTs, AWS access key ids,
GitHub, GitLab, npm, Slack, Stripe-style and ``sk-`` API keys, Google and perfpulse API keys, Slack
webhook URLs, ``Cookie:`` header lines and card numbers (13-19 digits, one kind of separator among
space, dash and dot, Luhn-valid, issuer digit 2-6).

Every pattern runs in time linear in the text, whatever the text (bodies reach 16 MiB), with no
engine beyond :mod:`re`, because each is written so that no character is scanned more than a bounded
number of times:
1. an attempt starts on a literal ("://", "-----BEGIN", a sensitive word) or where a lookbehind
   shows that a token starts, never inside a run of the characters the pattern loops on, so two
   attempts never scan the same unbounded run;
2. runs are matched possessively (``*+``, ``++``), so a failing attempt never backtracks into them;
   what backtracking remains is over bounded quantifiers (``{0,64}``);
3. an unbounded run either ends the pattern (the match cannot fail after it) or is followed by a
   delimiter the run excludes; a card chain is taken whole and split by the callback.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["DEFAULT_SENSITIVE_KEYS", "REDACTED", "TEXT_KEYS", "Redactor"]

REDACTED = "[REDACTED]"
DEFAULT_SENSITIVE_KEYS = (
    "authorization", "password", "passwd", "secret", "token", "api_key", "apikey", "cookie", "set-cookie",
    "x-api-key", "proxy-authorization", "private_key", "client_secret", "access_token", "refresh_token",
)  # fmt: skip
# Key names that mark a secret in free text whatever keys a Redactor is configured with (a key
# containing one counts): a message saying ``password=...`` leaks whether or not ``password`` is
# a configured attribute name. ``pwd`` catches ``MYSQL_PWD``, ``accountkey`` Azure connection
# strings, ``signature`` and ``credential`` presigned URLs.
TEXT_KEYS = (
    "password", "passwd", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key",
    "accesskey", "accountkey", "private_key", "privatekey", "credential", "signature",
)  # fmt: skip
# Short names that count only whole (``sig`` of Azure SAS URLs): as parts they are everywhere.
_TEXT_EXACT_KEYS = ("sig", "pass", "pw")

_ASCII_I = re.ASCII | re.IGNORECASE

# PEM private keys, multi-line or with escaped newlines (a GCP service-account JSON): the body runs
# to the END line or, when there is none, to the end of the text.
_PEM = re.compile(
    r"(-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,16}-----)(?:[^-]++|-(?!----END))*+"
    r"(-----END[A-Z0-9 ]{0,40}PRIVATE KEY[A-Z ]{0,16}-----)?",
    re.ASCII,
)
# Userinfo of a URL: "://" starts it and "/" ends the run, so two attempts never share a run; the
# password may hold "@", the last one before the host ends it.
_URL_CREDENTIALS = re.compile(r"://[^\s/?#@:]*+:[^\s/?#]*@")
_SLACK_WEBHOOK = re.compile(r"(?=h)(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]++", _ASCII_I)
# A Cookie header carries many "name=value" pairs, each a session: mask the line.
_COOKIE = re.compile(r"(?=[cs])(?<![\w.-])((?:set-)?cookie[ \t]{0,8}+:[ \t]{0,8}+)[^\r\n\"]++", _ASCII_I)
# Authorization schemes outside any key=value; "token" needs 8 characters, as "token expired" is prose.
_AUTH = re.compile(r"(?=[bt])(?<![\w.-])(bearer|basic|token)[ \t]++([A-Za-z0-9._~+/-]++=*+)", _ASCII_I)
# Token shapes recognisable by themselves (case matters: AKIA, ghp_ and eyJ are the shapes).
_SHAPES = re.compile(
    r"(?=[egnxsprwA])(?<![A-Za-z0-9_-])(?:"
    r"eyJ[A-Za-z0-9_-]++\.[A-Za-z0-9_-]++\.[A-Za-z0-9_-]*+"  # JWT: header.payload.signature
    r"|gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+"  # GitHub
    r"|glpat-[A-Za-z0-9_-]{20,}+|npm_[A-Za-z0-9]{36,}+"  # GitLab, npm
    r"|xox[abposr]-[A-Za-z0-9-]{10,}+"  # Slack
    r"|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}+|whsec_[A-Za-z0-9]{20,}+"  # Stripe
    r"|sk-[A-Za-z0-9_-]{20,}+"  # OpenAI, Anthropic and alike
    r"|A(?:KIA|SIA|GPA|IDA|ROA|IPA|NPA|NVA)[A-Z0-9]{16}(?![A-Za-z0-9])"  # AWS access key ids
    r"|AIza[A-Za-z0-9_-]{35}"  # Google API keys
    r"|pp_[a-z2-7]{52}(?![A-Za-z0-9])"  # perfpulse's own API keys (storage.keys)
    r")"
)
_SHAPE_MARKS = (
    "eyJ", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "npm_", "xox", "_live_", "_test_", "whsec_",
    "sk-", "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "AIza", "pp_",
)  # fmt: skip  # every match of _SHAPES holds one
# Card numbers: a chain of digit groups joined by single separators, taken whole (a chain is never
# scanned twice); the callback finds the cards in it. Not inside a word or a decimal fraction.
_CARD = re.compile(r"(?=[2-6])(?<![0-9A-Za-z])(?<![0-9][.,])[2-6][0-9]{3,}+(?:[ .-][0-9]++)*+")
_CARD_HINT = re.compile(r"[0-9]{4}[ .-]?[0-9]{4}")  # any card: four digits, a separator or not, four more
_CARD_SEPARATOR = re.compile(r"[ .-]")

# A quoted value ends at its closing quote (escapes skipped) or, unclosed, at the end of the line; an
# escaped quote opens a value inside a JSON-encoded string; a bare value ends at a space, quote, "&",
# "," or ";", and takes an Authorization scheme along with its credential.
_VALUE = (
    re.escape(REDACTED) + r"(?![^\s\"&,;}\]])|"  # already redacted (the sink redacts again): kept
    r"\"[^\"\\\r\n]*+(?:\\.?[^\"\\\r\n]*+)*+\"?"
    r"|'[^'\\\r\n]*+(?:\\.?[^'\\\r\n]*+)*+'?"
    # an escaped-quote string ends at its \" or, cut short, at a lone backslash (kept, a second
    # pass would read "[REDACTED]\" as a new value: redacting twice must change nothing)
    r"|\\\"[^\"\\\r\n]*+(?:\\[^\"\r\n][^\"\\\r\n]*+)*+(?:\\\"|\\)?"
    r"|-?[0-9][0-9.eE+-]*+(?=[}\]])"  # a JSON number closing its object or array, the bracket kept
    r"|(?:(?:bearer|basic|digest|token|negotiate)[ \t]++)?[^\s\"&,;]++"
)
_QUOTES = ('\\"', '"', "'")
_SHORT = 4096  # characters: up to this length, one regex search decides whether any pass is needed


@dataclass(frozen=True)
class _Patterns:
    """The patterns that depend on a Redactor's keys."""

    maybe: re.Pattern[str]  # on lowercased text: a superset of where any pattern can match
    words: tuple[str, ...]  # a sensitive key contains one of them (lowercase)
    key_value: re.Pattern[str]  # a sensitive key, its separator and its value
    flag: re.Pattern[str]  # a sensitive command-line flag and its value: "--password x"
    cookie: bool  # whether Cookie header lines are masked (the keys make "cookie" sensitive)


_Trie = dict[str, "_Trie"]  # character -> subtree; the key "" marks the end of a word


def _trie(words: Iterable[str]) -> str:
    """An alternation matching ``words``, factored by common prefixes ("pass(?:wd|word)"): at a
    position where none starts, the engine tries one branch per character, not one per word."""
    root: _Trie = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: _Trie) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        if "" in node:
            return f"(?:{'|'.join(branches)})?"
        return branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})"

    return pattern(root)


@functools.lru_cache(maxsize=64)  # one Redactor per configuration, built once
def _patterns(keys: frozenset[str]) -> _Patterns:
    # A key containing "secret" contains it whatever else it holds: "client_secret" adds nothing.
    names = {*(k.lower() for k in keys if k), *TEXT_KEYS}
    words = sorted(w for w in names if not any(v != w and v in w for v in names))
    alternation = _trie(words)
    exact = "|".join(_TEXT_EXACT_KEYS)
    firsts = "".join(sorted({re.escape(w[0]) for w in (*words, *_TEXT_EXACT_KEYS)}))
    # The match starts at the sensitive part of the key, not at the key's start: the part before it
    # stays as it is, and an unbounded run of key characters is never scanned from every position.
    # What follows the part is bounded ({0,64}), so a key made of many parts costs 64 a part.
    # A dotted tail (``pwd.com``) is kept apart: followed by ``:<port>/`` the "key" is a URL's host.
    key = (
        rf"(?=[{firsts}])(?:(?<![\w.-])(?:{exact})(?![\w.-])"
        rf"|(?:{alternation})[\w-]{{0,64}}+(?P<dotted>\.[\w.-]{{0,64}}+)?)"
    )
    # The key's closing quote may be escaped: JSON logged inside a string ({\"password\":\"x\"}).
    # A host and port ("https://pwd.com:8080/x") is not a key and its value: no match, so the URL's
    # query string is still read for keys ("?token=...").
    host_port = r"(?(dotted)(?!(?<=:)[0-9]{1,5}+/))"
    key_value = rf"{key}(?:\\\"|[\"'])?[ \t]{{0,8}}+(?:=>|[:=])[ \t]{{0,8}}+{host_port}(?P<value>{_VALUE})"
    # A flag starts at its dashes, so its name is bounded on both sides of the sensitive part; a
    # value starting with a dash is the next flag ("--no-password -h db").
    flag = rf"(?=-)(?<![\w-])--?[\w-]{{0,32}}?(?:{alternation})[\w-]{{0,32}}+[ \t]{{1,8}}+(?!-)(?P<value>{_VALUE})"
    hints = [alternation, exact, "bearer|basic|token", "://", r"hooks\.slack\.com", "-----begin"]
    hints += ["|".join(m.lower() for m in _SHAPE_MARKS), _CARD_HINT.pattern]
    return _Patterns(
        maybe=re.compile(rf"(?=[{firsts}bt:h\-egnx_wsa0-9])(?:{'|'.join(hints)})"),
        words=(*words, *_TEXT_EXACT_KEYS),
        key_value=re.compile(key_value, _ASCII_I),
        flag=re.compile(flag, _ASCII_I),
        cookie=_sensitive(keys, "cookie"),
    )


@functools.lru_cache(maxsize=65_536)  # attribute names repeat: decide each once
def _sensitive(keys: frozenset[str], key: str) -> bool:
    lowered = key.lower()
    return lowered in keys or any(k in lowered for k in keys)


def _mask_value(match: re.Match[str]) -> str:
    """``key=value`` -> ``key=[REDACTED]``, quotes kept around a quoted value."""
    value = match.group("value")
    head = match.group(0)[: match.start("value") - match.start()]
    for quote in _QUOTES:
        if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
            return f"{head}{quote}{REDACTED}{quote}"
    return f"{head}{REDACTED}"


def _basic_credentials(credential: str) -> bool:
    """Whether ``credential`` is base64 of ``user:password``, as a ``Basic`` scheme carries."""
    try:
        decoded = base64.b64decode(credential + "=" * (-len(credential) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


def _mask_auth(match: re.Match[str]) -> str:
    scheme, credential = match.group(1), match.group(2)
    kind = scheme.lower()
    if (kind == "basic" and not _basic_credentials(credential)) or (kind == "token" and len(credential) < 8):
        return match.group(0)  # prose: "basic setup", "token expired"
    return f"{scheme} {REDACTED}"


def _mask_pem(match: re.Match[str]) -> str:
    return f"{match.group(1)}{REDACTED}{match.group(2) or ''}"


_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # digit -> the digit sum of twice it


def _digit_sum(digits: str) -> int:
    return sum(digits.encode()) - 48 * len(digits)  # ASCII digits: a byte sum, no per-digit int()


def _luhn_ok(digits: str) -> bool:
    return (_digit_sum(digits[-1::-2]) + _digit_sum(digits[-2::-2].translate(_LUHN_DOUBLED))) % 10 == 0


def _card_at(groups: list[str], separators: list[str], first: int, last: int) -> int:
    """The last group of the longest card starting at group ``first`` and ending by group ``last``,
    or -1. A card is one group of 13-19 digits, or groups joined by one kind of separator, each but
    the last of 4-6 digits ("4111 1111 1111 1111", Amex "3782-822463-10005"), issuer digit 2-6,
    Luhn-valid; dates, IP addresses, decimals and version strings are grouped otherwise."""
    if groups[first][0] not in "23456":
        return -1
    found, digits = -1, ""
    for index in range(first, last + 1):
        if index > first and (not 4 <= len(groups[index - 1]) <= 6 or separators[index - 1] != separators[first]):
            break
        digits += groups[index]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and _luhn_ok(digits):
            found = index
    return found


def _mask_card(match: re.Match[str]) -> str:
    """Every card of a chain of digit groups masked to its last four digits, the rest kept."""
    chain, after = match.group(0), match.string[match.end() : match.end() + 1]
    glued = after.isascii() and after.isalpha()  # "...1111ab": the last group is part of an id
    groups = _CARD_SEPARATOR.split(chain)
    separators = _CARD_SEPARATOR.findall(chain)
    last = len(groups) - 1 - glued
    pieces: list[str] = []
    offset = kept = 0  # offset: where group ``index`` starts in ``chain``; kept: chain[:kept] is out
    index = 0
    while index <= last:
        end = _card_at(groups, separators, index, last)
        if end < 0:
            offset += len(groups[index]) + 1
            index += 1
            continue
        digits = "".join(groups[index : end + 1])
        stop = offset + len(digits) + end - index
        pieces += [chain[kept:offset], f"[CARD ****{digits[-4:]}]"]
        offset = kept = stop
        offset += 1
        index = end + 1
    if not pieces:
        return chain
    pieces.append(chain[kept:])
    return "".join(pieces)


@dataclass(frozen=True)
class Redactor:
    """Masks secrets. ``keys``: attribute names (case-insensitive; a key containing one of them,
    such as ``http.request.header.authorization``, counts too) whose values are replaced whole, and
    which mark a secret in free text along with :data:`TEXT_KEYS`."""

    keys: frozenset[str] = frozenset(DEFAULT_SENSITIVE_KEYS)

    @classmethod
    def of(cls, keys: Iterable[str]) -> Redactor:
        return cls(frozenset(k.strip().lower() for k in keys if k.strip()))

    def sensitive(self, key: str) -> bool:
        return _sensitive(self.keys, key)

    def attributes(self, attributes: Mapping[str, str]) -> dict[str, str]:
        """A copy with values of sensitive keys redacted and the rest passed through :meth:`text`."""
        return {key: REDACTED if self.sensitive(key) else self.text(value) for key, value in attributes.items()}

    def text(self, text: str) -> str:
        """Free text with the secrets listed in the module docstring masked; linear in ``len(text)``."""
        if not text:
            return text
        # Lowercased, every pattern needs one of the hints: one search spares the passes on the
        # usual text, which has none. Lowercasing only adds ASCII letters, so the hints stay a superset.
        # Long text skips it: the substring tests below are faster than the regex over many characters.
        lowered = text.lower()
        patterns = _patterns(self.keys)
        if len(text) <= _SHORT and patterns.maybe.search(lowered) is None:
            return text
        if "-----begin" in lowered:
            text = _PEM.sub(_mask_pem, text)
        if "://" in lowered:
            text = _URL_CREDENTIALS.sub(f"://{REDACTED}@", text)
        if "hooks.slack.com" in lowered:
            text = _SLACK_WEBHOOK.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        if any(word in lowered for word in patterns.words):
            if patterns.cookie and "cookie" in lowered:
                text = _COOKIE.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
            text = patterns.key_value.sub(_mask_value, text)
            if "-" in lowered:
                text = patterns.flag.sub(_mask_value, text)
        if "bearer" in lowered or "basic" in lowered or "token" in lowered:
            text = _AUTH.sub(_mask_auth, text)
        if any(mark in text for mark in _SHAPE_MARKS):
            text = _SHAPES.sub(REDACTED, text)
        if _CARD_HINT.search(lowered) is not None:
            text = _CARD.sub(_mask_card, text)
        return text
