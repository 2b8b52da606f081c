"""Search terms: the character unigrams and bigrams that index Chinese text, and a user's query
split the same way.

Chinese has no spaces between words, so a word tokenizer finds nothing to split on, and a
trigram index cannot answer the one- and two-character words (违纪, 纪) people search most.
Instead every indexable character of a title or body is a term, and so is every pair of
adjacent indexable characters: "严重违纪" gives 严 重 违 纪 严重 重违 违纪.  A query word is
looked up by its bigrams (by its unigrams when it has no bigram), so a 1- or 2-character word
is one exact term, and a longer word is the AND of its bigrams, then checked as a substring
(see ``storage.repository.search``): the index only narrows the candidates, the substring
check decides, and the result is the substring scan's.

Indexable characters are ASCII letters and digits (lowercased) and the CJK ideographs of the
basic plane (U+3400–U+4DBF, U+4E00–U+9FFF, U+F900–U+FAFF): characters that SQLite's
``unicode61`` tokenizer treats as one token whatever its Unicode tables' age, and that need no
quoting in an FTS5 string or a PostgreSQL ``tsquery``, so a term can never carry query
syntax.  A query word without any indexable character (``-``, ``É``) is matched by the
substring check alone.

Hand-written: FTS5's tokenizers cannot be extended from Python's ``sqlite3``, PostgreSQL has no
bigram parser, and the n-gram tokenizers on PyPI (jieba and the like) split into dictionary
words, which a substring query does not respect.
"""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from storage.text import clean_text
from storage.tuple_pickle import tuple_pickled

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_WORDS",
    "QueryWord",
    "TermText",
    "document_terms",
    "document_terms_text",
    "fold",
    "query_words",
    "sorted_unique",
]

MAX_QUERY_CHARS = 200  # a longer query is refused: no one types it, and it bounds the work
MAX_QUERY_WORDS = 8
MAX_WORD_TERMS = 16  # any subset of a word's bigrams still narrows correctly


_INDEXABLE = "a-z0-9\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(f"[{_INDEXABLE}]+")
_ONE = re.compile(f"[{_INDEXABLE}]")


def _is_indexable(ch: str) -> bool:
    return _ONE.fullmatch(ch) is not None


_FOLD: dict[int, str] = {0x130: "i"}  # "İ".lower() is two characters; its simple fold is "i"


def fold(text: str) -> str:
    """``text`` lowercased as the databases' case-insensitive matching does it (one character
    for one: the dotted capital I becomes ``i``)."""
    if "\u0130" in text:
        text = text.translate(_FOLD)
    return text.lower()


def document_terms(text: str) -> set[str]:
    """The distinct index terms of ``text``: its indexable characters, and each pair of
    adjacent indexable characters."""
    terms: set[str] = set()
    for run in _RUNS.findall(fold(text)):
        terms.update(run)  # C loops only: this runs over every article stored
        terms.update(map(operator.add, run, run[1:]))
    return terms


@tuple_pickled
@dataclass(frozen=True, slots=True)
class TermText:
    """An article's index terms as the index takes them: each text's distinct terms, joined by
    spaces (cheap to send between processes: one string each)."""

    title: str
    body: str

    @classmethod
    def of(cls, title: str, body: str) -> TermText:
        """Computed in Python, which needs no numpy (:func:`document_terms_text` is faster)."""
        return cls(" ".join(document_terms(title)), " ".join(document_terms(body)))


_LOW_16 = 0xFFFF


def document_terms_text(text: str) -> str:
    """The terms of :func:`document_terms`, each once, joined by single spaces.

    The same set, computed in numpy over the text's code points (a third of the time of
    building the set in Python; numpy is imported on the first call, so only a process that
    indexes pays for it: the extraction worker, which has it loaded for the fingerprints).
    """
    import numpy as np

    codes = np.frombuffer(fold(text).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    # unsigned: a code point below a range's start wraps round above its width
    ok = (
        ((codes - 0x61) <= 0x7A - 0x61)
        | ((codes - 0x30) <= 0x39 - 0x30)
        | ((codes - 0x3400) <= 0x4DBF - 0x3400)
        | ((codes - 0x4E00) <= 0x9FFF - 0x4E00)
        | ((codes - 0xF900) <= 0xFAFF - 0xF900)
    )
    unigrams = sorted_unique(codes[ok])
    adjacent = ok[:-1] & ok[1:]
    # every indexable code point is below 2**16: a pair fits 32 bits and sorts as (first,
    # second), a sort of half the bytes of 64-bit pairs (a sixth of this function's time)
    bigrams = sorted_unique((codes[:-1][adjacent] << 16) | codes[1:][adjacent])
    # written as UTF-32 text: "a␠" per unigram, "ab␠" per bigram, decoded in one call
    split = 2 * len(unigrams)
    out = np.full(split + 3 * len(bigrams), ord(" "), dtype=np.uint32)
    out[0:split:2] = unigrams
    out[split::3] = bigrams >> 16
    out[split + 1 :: 3] = bigrams & _LOW_16
    return out.tobytes().decode("utf-32-le")[:-1]


def sorted_unique(values: NDArray[Any]) -> NDArray[Any]:
    """``np.unique(values)`` (sorted, each value once), by a sort of ``values`` in place and a
    comparison of neighbours: numpy 2's hash-based ``unique`` took five times as long on a
    body's ~10,000 terms or shingles (0.25 against 0.05 ms)."""
    import numpy as np

    values.sort()
    if len(values) < 2:
        return values
    keep = np.empty(len(values), np.bool_)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One whitespace-separated word of a query: its text (folded, for the substring check)
    and the index terms every matching title or body contains (empty: none is known)."""

    text: str
    terms: tuple[str, ...]


def _word_terms(word: str) -> tuple[str, ...]:
    bigrams = [a + b for a, b in itertools.pairwise(word) if _is_indexable(a) and _is_indexable(b)]
    chosen = bigrams or [ch for ch in word if _is_indexable(ch)]
    return tuple(dict.fromkeys(chosen))[:MAX_WORD_TERMS]


def query_words(query: str) -> list[QueryWord]:
    """A user's search text as words, every one of which must appear in the title or the body.

    Control characters are dropped; FTS or ``tsquery`` syntax (``"``, ``*``, ``NEAR``, ``:``,
    ``-``) is text like any other.  Raises :class:`ValueError` for a query that is too long or
    has too many words.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise ValueError(f"search text longer than {MAX_QUERY_CHARS} characters")
    words = list(dict.fromkeys(fold(clean_text(query)).split()))
    if len(words) > MAX_QUERY_WORDS:
        raise ValueError(f"search text has more than {MAX_QUERY_WORDS} words")
    return [QueryWord(text=w, terms=_word_terms(w)) for w in words]
