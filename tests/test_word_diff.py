"""Word-level diff: exact reconstruction, the right words marked, and hostile text kept inert."""

from __future__ import annotations

import html
import re

from swapcheck.word_diff import (
    MAX_DIFF_TOKENS,
    DiffSpan,
    spans_to_html,
    tokenize,
    word_diff,
)


def changed_words(spans: tuple[DiffSpan, ...]) -> list[str]:
    return [s.text for s in spans if s.changed]


def test_tokens_rebuild_the_text_exactly() -> None:
    text = "Hello,  world!\n\tIt's 3.5 €  — fine."
    assert "".join(tokenize(text)) == text
    assert tokenize("a  b,c") == ["a", "  ", "b", ",", "c"]


def test_one_replaced_word_is_marked_on_both_sides() -> None:
    diff = word_diff("The cat sat on the mat.", "The dog sat on the mat.")
    assert diff.compared
    assert changed_words(diff.left) == ["cat"]
    assert changed_words(diff.right) == ["dog"]
    assert "".join(s.text for s in diff.left) == "The cat sat on the mat."
    assert "".join(s.text for s in diff.right) == "The dog sat on the mat."


def test_insertion_marks_only_the_new_words_with_inner_whitespace() -> None:
    diff = word_diff("Restart the router.", "Restart the router and the modem.")
    assert changed_words(diff.left) == []
    assert changed_words(diff.right) == ["and the modem"]
    assert [s.text for s in diff.right] == ["Restart the router ", "and the modem", "."]


def test_whitespace_differences_alone_are_not_changes() -> None:
    diff = word_diff("a b\nc", "a  b c")
    assert changed_words(diff.left) == [] and changed_words(diff.right) == []


def test_identical_and_empty_texts() -> None:
    same = word_diff("same words", "same words")
    assert same.left == same.right == (DiffSpan("same words", False),)
    empty = word_diff("", "new text")
    assert empty.left == () and empty.right == (DiffSpan("new text", True),)


def test_texts_too_long_are_not_compared() -> None:
    long_text = "word " * (MAX_DIFF_TOKENS // 2 + 1)
    diff = word_diff(long_text, "word")
    assert not diff.compared
    assert diff.left == (DiffSpan(long_text, False),)
    assert diff.right == (DiffSpan("word", False),)


HOSTILE = (
    '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> '
    "[x](javascript:alert(1)) <b>bold</b> &amp; </mark><mark> \" ' </div>"
)


def test_html_escapes_everything_and_uses_only_its_own_tags() -> None:
    diff = word_diff("Plain answer.", HOSTILE)
    out = spans_to_html(diff.right)
    tags = re.findall(r"<\s*/?\s*([a-zA-Z]+)", out)
    assert set(tags) <= {"div", "mark"}
    assert out.count("<mark") == out.count("</mark>") == len(changed_words(diff.right))
    assert out.startswith("<div ") and out.endswith("</div>") and out.count("<div") == 1
    for needle in ("<script", "<img", "<b>", "</mark><mark>", 'onerror="'):
        assert needle not in out, needle
    assert "&amp;amp;" in out  # the text's own entity is shown, not decoded
    assert "&lt;script&gt;" in out and "&lt;img src=x onerror=&quot;" in out
    text = re.sub(r"<[^>]*>", "", out)  # strip our own tags: what remains unescapes to the input
    assert html.unescape(text) == HOSTILE


def test_html_of_unchanged_text_has_no_marks() -> None:
    diff = word_diff("a <b> c", "a <b> c")
    assert spans_to_html(diff.left) == (
        f'<div style="{"white-space: pre-wrap; overflow-wrap: anywhere; font-family: inherit"}">'
        "a &lt;b&gt; c</div>"
    )
