"""What an extractive answer may quote: whole sentences although the source wraps its lines, list items with the
sentence that introduces them, table rows with their header; headings are cited, never quoted."""

from __future__ import annotations

from knowledge.answer import _sentences

WRAPPED = """## Bikes

Staff who cycle to work receive a commuter bonus of 40 euros
per month. Storage is in the basement of the Harbour Street
office.

To claim the bonus you need:
- a signed cycling declaration
- your bank details
- your manager's approval

| Distance | Bonus |
|---|---|
| under 5 km | 20 euros |
| 5 km or more | 40 euros |
"""


def test_wrapped_lines_are_joined_into_whole_sentences() -> None:
    sentences = _sentences(WRAPPED)
    assert "Staff who cycle to work receive a commuter bonus of 40 euros per month." in sentences
    assert "Storage is in the basement of the Harbour Street office." in sentences
    assert not any(s.startswith("per month") or s == "Bikes" for s in sentences)


def test_list_items_follow_the_sentence_that_introduces_them() -> None:
    assert (
        "To claim the bonus you need: a signed cycling declaration; your bank details; your manager's approval."
        in _sentences(WRAPPED)
    )


def test_table_rows_keep_their_header() -> None:
    sentences = _sentences(WRAPPED)
    assert "Distance | Bonus: under 5 km | 20 euros" in sentences
    assert "Distance | Bonus: 5 km or more | 40 euros" in sentences
