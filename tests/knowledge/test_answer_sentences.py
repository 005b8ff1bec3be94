"""What an extractive answer may quote: whole sentences although the source wraps its lines, list items with the
sentence that introduces them, table rows with their header; headings are cited, never quoted. A question for a
quantity is answered only by a sentence that states one."""

from __future__ import annotations

from pathlib import Path

from bot.db import Database
from bot.migrate import upgrade
from knowledge.answer import _sentences, extract_answer
from knowledge.index import Hit, KnowledgeIndex

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


def _index_with(tmp_path: Path, markdown: str) -> KnowledgeIndex:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    upgrade(url)
    database = Database(url)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "bikes.md").write_text(markdown, encoding="utf-8")
    index = KnowledgeIndex.persistent(tmp_path / "chroma")
    with database.session_scope() as session:
        index.ingest(session, [tmp_path / "docs"])
    database.dispose()
    return index


def test_a_question_for_an_amount_is_answered_only_by_a_sentence_that_states_one(tmp_path: Path) -> None:
    index = _index_with(
        tmp_path,
        "---\ntitle: Cycling\n---\n# Cycling\n\n## Bike storage\n\nBikes are stored in the basement of the Harbour "
        "Street office. Ask reception for a key to the bike room.\n\n## Commuter bonus\n\nStaff who cycle to work "
        "receive a commuter bonus of 40 euros per month.\n",
    )
    asked = "how much is the commuter bonus for cycling to work"
    answer = extract_answer(asked, index.search(asked), index, min_score=0.0)
    assert answer.confident and "40 euros" in answer.text
    # The documents talk about bike storage, but state no price for a parking spot: not an answer.
    asked = "how much does a bike storage spot in the basement cost per month"
    hits = [h for h in index.search(asked) if "Bike storage" in h.heading]
    answer = extract_answer(asked, hits, index, min_score=0.0)
    assert not answer.confident and answer.text == ""
    asked = "where are bikes stored at the Harbour Street office"
    answer = extract_answer(asked, hits, index, min_score=0.0)
    assert answer.confident and "basement" in answer.text


def test_a_sentence_repeated_in_two_passages_is_quoted_once(tmp_path: Path) -> None:
    repeated = "Staff who cycle to work receive a commuter bonus of 40 euros per month."
    index = _index_with(
        tmp_path,
        f"---\ntitle: Cycling\n---\n# Cycling\n\n## Commuter bonus\n\n{repeated} The bonus is paid with the salary."
        f"\n\n## Frequently asked\n\n{repeated} Claim it once a year in the expenses tool.\n",
    )
    asked = "how much is the commuter bonus for cycling to work"
    answer = extract_answer(asked, index.search(asked), index, min_score=0.0)
    assert answer.confident and answer.text.count("40 euros") == 1


def test_a_question_for_a_duration_prefers_the_sentence_that_states_one(tmp_path: Path) -> None:
    index = _index_with(
        tmp_path,
        "---\ntitle: Sabbaticals\n---\n# Sabbaticals\n\n## Sabbatical requests\n\n"
        "The people team reviews each sabbatical request together with your manager. "
        "Your manager reviews the sabbatical request before the people team does. "
        "The people team may ask about the plans in your sabbatical request. "
        "The people team takes a sabbatical request from staff with 5 years of service. "
        "A review takes the people team up to fifteen working days. "
        "Plans are kept private.\n",
    )
    asked = "how long does the people team take to review a sabbatical request?"
    answer = extract_answer(asked, index.search(asked), index, min_score=0.0)
    assert answer.confident and "fifteen working days" in answer.text


def test_the_passage_closest_in_meaning_is_quoted_before_a_higher_ranked_keyword_match(tmp_path: Path) -> None:
    """The fused ranking can put a passage that merely repeats the question's words first; the sentence that
    answers is taken from the passage closest in meaning, down to the fourth, and leads the answer."""
    index = _index_with(tmp_path, WRAPPED)

    def hit(rank: int, text: str, similarity: float) -> Hit:
        return Hit(
            f"c{rank}",
            "bikes.md",
            "Bikes",
            f"Part {rank}",
            "bikes.md",
            "everyone",
            text,
            1 / (rank + 1),
            similarity,
            rank,
        )

    asked = "how much is the commuter bonus for cycling to work"
    hits = [
        hit(0, "The commuter bonus form asks whether you cycle to work. Cycling to work is a commuter choice.", 0.40),
        hit(1, "Parking for cars is limited at the Harbour Street office.", 0.20),
        hit(2, "Showers are on the second floor.", 0.15),
        hit(3, "Staff who cycle to work receive a commuter bonus of 40 euros per month.", 0.80),
    ]
    answer = extract_answer(asked, hits, index, min_score=0.0)
    # It leads the answer, and its passage is the first source.
    assert answer.confident and answer.text.startswith("Staff who cycle to work receive a commuter bonus of 40 euros")
    assert answer.citations[0].heading == "Part 3"


def test_a_list_after_a_blank_line_still_follows_its_sentence() -> None:
    text = (
        "## Payslips\n\nTo see your payslips:\n\n1. Sign in to the payroll portal.\n2. Open Statements.\n\n"
        "- Payslips are kept for seven years.\n\n## Next\n\nRead the next section:\n\n"
        "## Other\n\n- An item of another part\n"
    )
    sentences = _sentences(text)
    assert (
        "To see your payslips: Sign in to the payroll portal; Open Statements; Payslips are kept for seven years."
        in (sentences)
    )
    # A heading ends the sentence's section: what follows it is not its list.
    assert "Read the next section:" in sentences and "An item of another part" in sentences


def test_a_list_item_is_quoted_sentence_by_sentence_and_a_block_quote_as_its_text() -> None:
    text = (
        "## Receipts\n\n- Keep every receipt. Receipts are needed for any expense over 25 euros. Scans are fine.\n"
        "- Claims go through the expenses tool.\n\n> Note\n>\n> Lost receipts need a signed statement.\n"
    )
    sentences = _sentences(text)
    assert "Receipts are needed for any expense over 25 euros." in sentences
    assert "Claims go through the expenses tool." in sentences
    assert "Lost receipts need a signed statement." in sentences
    assert not any(">" in s for s in sentences)


def test_no_limit_answers_a_question_for_a_limit(tmp_path: Path) -> None:
    index = _index_with(
        tmp_path,
        "---\ntitle: Sick leave\n---\n# Sick leave\n\n## Saving sick leave\n\nSick leave you do not use is kept "
        "from year to year. There is no maximum on the sick leave you can save.\n",
    )
    asked = "is there a cap on how much sick leave I can save up?"
    answer = extract_answer(asked, index.search(asked), index, min_score=0.0)
    assert answer.confident and "no maximum" in answer.text
