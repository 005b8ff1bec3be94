"""Loaders: each supported file type in, a titled list of sections (heading path + text) out."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.chunking import MAX_CHARS, chunk_document
from knowledge.loaders import (
    CorruptDocument,
    LoadedDocument,
    Section,
    UnsupportedDocument,
    load_document,
)


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A minimal valid PDF: one page per string, Helvetica text streams, exact xref byte offsets."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1 if title else None
    page_ids = [3 + 2 * i for i in range(n_pages)]
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: ("<< /Type /Pages /Kids [" + " ".join(f"{p} 0 R" for p in page_ids) + f"] /Count {n_pages} >>").encode(),
    }
    for page_id, text in zip(page_ids, pages, strict=True):
        content_id = page_id + 1
        objects[page_id] = (
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>"
        ).encode()
        lines = text.split("\n")
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for i, line in enumerate(lines):
            ops.append(f"({escape(line)}) Tj")
            if i < len(lines) - 1:
                ops.append("T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects[content_id] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    objects[font_id] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    if info_id is not None and title is not None:
        objects[info_id] = f"<< /Title ({escape(title)}) >>".encode("latin-1")

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n" % number + objects[number] + b"\nendobj\n"
    xref_at = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n" % size
    out += b"0000000000 65535 f \n"
    for number in range(1, size):
        out += b"%010d 00000 n \n" % offsets[number]
    trailer = f"<< /Size {size} /Root 1 0 R" + (f" /Info {info_id} 0 R" if info_id else "") + " >>"
    out += b"trailer\n" + trailer.encode() + b"\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- Markdown


def test_markdown_front_matter_gives_title_audience_and_url_and_is_not_in_the_text(tmp_path: Path) -> None:
    path = write(
        tmp_path / "approvals.md",
        "---\ntitle: Manager Approvals\naudience: managers\npermalink: /approvals/\nlayout: page\n---\n"
        "## Who approves\nYour line manager approves leave.\n",
    )
    doc = load_document(path)
    assert doc.title == "Manager Approvals"
    assert doc.audience == "managers"
    assert doc.url == "/approvals/"
    text = "\n".join(s.text for s in doc.sections)
    assert "layout" not in text and "permalink" not in text and "---" not in text
    assert doc.sections == [Section(("Who approves",), "Your line manager approves leave.")]


def test_markdown_unknown_audience_is_refused_not_published_to_everyone(tmp_path: Path) -> None:
    from knowledge.loaders import BadFrontMatter

    path = write(tmp_path / "x.md", "---\ntitle: X\naudience: Contractors\n---\nBody text.\n")
    with pytest.raises(BadFrontMatter, match="unknown audience 'contractors'"):
        load_document(path)


def test_markdown_without_front_matter_uses_h1_then_file_name_as_title(tmp_path: Path) -> None:
    with_h1 = write(tmp_path / "a.md", "# Remote Work\n\nWork from anywhere.\n")
    without = write(tmp_path / "sick-leave_policy.md", "Call in before 9am.\n")
    first = load_document(with_h1)
    assert first.title == "Remote Work"
    assert first.sections == [Section((), "Work from anywhere.")]
    assert load_document(without).title == "Sick leave policy"


def test_eleventy_and_nunjucks_tags_are_stripped(tmp_path: Path) -> None:
    path = write(
        tmp_path / "leave.md",
        "---\ntitle: Leave\n---\n"
        'See [the travel guide]({% page "/travel/guide/" %}) before booking.\n\n'
        "{% alert %}Book early.{% endalert %}\n\n"
        '{% alert "warning", "Careful" %}\nMind the cut-off.\n{% endalert %}\n\n'
        "Ask {{ site.hr_email }} for help. {# a template comment #}\n\n"
        '{% include "footer.html" %}\n'
        'Raw link: {% page "/benefits/" %}\n',
    )
    doc = load_document(path)
    text = "\n".join(s.text for s in doc.sections)
    for leftover in ("{%", "%}", "{{", "}}", "{#", "#}", "alert", "include", "site.hr_email"):
        assert leftover not in text, leftover
    assert "See the travel guide before booking." in text
    assert "Book early." in text and "Mind the cut-off." in text
    assert "Ask  for help." in text or "Ask for help." in text
    assert "Raw link: /benefits/" in text


def test_markdown_heading_paths_follow_the_nesting(tmp_path: Path) -> None:
    path = write(
        tmp_path / "travel.md",
        "# Travel\n\nIntro line.\n\n"
        "## Booking\n\nUse the portal.\n\n"
        "### Flights\n\nEconomy class.\n\n"
        "### Hotels\n\nUp to **150 EUR** a night.\n\n"
        "## Claims\n\nSubmit within 30 days.\n\n"
        "```\n# not a heading\n```\n",
    )
    doc = load_document(path)
    assert doc.title == "Travel"
    by_path = {s.headings: s.text for s in doc.sections}
    assert by_path[()] == "Intro line."
    assert by_path[("Booking",)] == "Use the portal."
    assert by_path[("Booking", "Flights")] == "Economy class."
    assert by_path[("Booking", "Hotels")] == "Up to 150 EUR a night."
    assert by_path[("Claims",)].startswith("Submit within 30 days.")
    # A "#" line inside a fenced code block is text, not a heading.
    assert "# not a heading" in by_path[("Claims",)]
    assert [s.headings for s in doc.sections] == [
        (),
        ("Booking",),
        ("Booking", "Flights"),
        ("Booking", "Hotels"),
        ("Claims",),
    ]


# ----------------------------------------------------------------------------- other text formats


def test_txt_first_line_is_the_title_and_everything_is_one_section(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", "Holiday calendar 2025\n\nNew Year's Day: 1 January.\n")
    doc = load_document(path)
    assert doc.title == "Holiday calendar 2025"
    assert doc.sections == [Section((), "Holiday calendar 2025\n\nNew Year's Day: 1 January.")]


def test_empty_txt_is_an_empty_document(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path / "blank.txt", "  \n\n"))
    assert doc.is_empty
    assert doc.title == "Blank"


def test_html_title_and_heading_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path / "vpn.html",
        "<html><head><title>VPN Guide</title><style>p {color: red}</style></head><body>"
        "<nav><p>Home | About</p></nav>"
        "<h1>VPN Guide</h1><p>Install the client.</p>"
        "<h2>Windows</h2><p>Run the installer.</p><ul><li>Restart after.</li></ul>"
        "<h3>Troubleshooting</h3><p>Check the <b>proxy</b>.</p>"
        "<h2>Mac</h2><p>Use Homebrew.</p>"
        "<script>var secret = 1;</script><footer><p>Copyright</p></footer>"
        "</body></html>",
    )
    doc = load_document(path)
    assert doc.title == "VPN Guide"
    by_path = {s.headings: s.text for s in doc.sections}
    assert by_path[("VPN Guide",)] == "Install the client."
    assert by_path[("VPN Guide", "Windows")] == "Run the installer.\nRestart after."
    assert by_path[("VPN Guide", "Windows", "Troubleshooting")] == "Check the proxy ."
    assert by_path[("VPN Guide", "Mac")] == "Use Homebrew."
    everything = " ".join(by_path.values())
    assert "secret" not in everything and "Copyright" not in everything and "Home | About" not in everything


def test_html_without_title_uses_h1(tmp_path: Path) -> None:
    path = write(tmp_path / "page.htm", "<h1>Equipment</h1><p>Laptops are refreshed every 3 years.</p>")
    doc = load_document(path)
    assert doc.title == "Equipment"
    assert doc.sections == [Section((), "Laptops are refreshed every 3 years.")]


def test_docx_headings_and_title(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = ""
    document.add_paragraph("Expenses Policy", style="Title")
    document.add_paragraph("Keep every receipt.")
    document.add_heading("Meals", level=1)
    document.add_paragraph("Up to 40 EUR a day.")
    document.add_heading("Client dinners", level=2)
    document.add_paragraph("Need pre-approval.")
    document.add_heading("Mileage", level=1)
    document.add_paragraph("0.30 EUR per km.")
    path = tmp_path / "expenses.docx"
    document.save(str(path))

    doc = load_document(path)
    assert doc.title == "Expenses Policy"
    assert [(s.headings, s.text) for s in doc.sections] == [
        ((), "Keep every receipt."),
        (("Meals",), "Up to 40 EUR a day."),
        (("Meals", "Client dinners"), "Need pre-approval."),
        (("Mileage",), "0.30 EUR per km."),
    ]


def test_docx_core_title_wins(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = "Official Title"
    document.add_heading("Section", level=1)
    document.add_paragraph("Body.")
    path = tmp_path / "t.docx"
    document.save(str(path))
    doc = load_document(path)
    assert doc.title == "Official Title"
    assert doc.sections == [Section(("Section",), "Body.")]


def test_pdf_text_comes_out_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "per-diem.pdf"
    path.write_bytes(make_pdf(["Per diem rates", "Lunch allowance is 25 dollars per day."]))
    doc = load_document(path)
    assert doc.title == "Per diem"  # no /Title in the metadata: from the file name
    assert [s.headings for s in doc.sections] == [("Page 1",), ("Page 2",)]
    assert "Per diem rates" in doc.sections[0].text
    assert "Lunch allowance is 25 dollars per day." in doc.sections[1].text


def test_pdf_metadata_title(tmp_path: Path) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(make_pdf(["Security incidents go to the IT desk."], title="Incident Response"))
    doc = load_document(path)
    assert doc.title == "Incident Response"
    assert "Security incidents go to the IT desk." in doc.sections[0].text


def test_pdf_helper_is_a_valid_pdf(tmp_path: Path) -> None:
    """The hand-built PDF parses strictly (exact xref offsets), so the loader tests test the loader."""
    from pypdf import PdfReader

    path = tmp_path / "strict.pdf"
    path.write_bytes(make_pdf(["one", "two", "three"]))
    reader = PdfReader(str(path), strict=True)
    assert len(reader.pages) == 3
    assert reader.pages[2].extract_text().strip() == "three"


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer garbage \x00\x01\x02",
        b"this is not a pdf at all",
        b"",
    ],
    ids=["truncated", "not-a-pdf", "empty"],
)
def test_corrupt_pdf_raises_corrupt_document(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    with pytest.raises(CorruptDocument):
        load_document(path)


def test_pdf_with_damaged_xref_header_is_corrupt(tmp_path: Path) -> None:
    """One lost newline in the xref table ("0 6\\n0000000000" → "0 60000000000") is a corrupt file too.
    (Regression: pypdf raises LimitReachedError, a PyPdfError but not a PdfReadError, which used to escape.)"""
    good = make_pdf(["Hello"])
    assert b"xref\n0 6\n0000000000" in good
    path = tmp_path / "damaged.pdf"
    path.write_bytes(good.replace(b"xref\n0 6\n0000000000", b"xref\n0 60000000000"))
    with pytest.raises(CorruptDocument):
        load_document(path)


def test_corrupt_docx_raises_corrupt_document(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(CorruptDocument):
        load_document(path)


def test_binary_junk_named_md_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "policy.md"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CorruptDocument):
        load_document(path)


def test_text_file_with_nul_bytes_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "policy.txt"
    path.write_bytes(b"plain ascii\x00with a nul")
    with pytest.raises(CorruptDocument):
        load_document(path)


@pytest.mark.parametrize("name", ["setup.exe", "Makefile", "sheet.xlsx"])
def test_unsupported_types(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"MZ\x90\x00")
    with pytest.raises(UnsupportedDocument):
        load_document(path)


def test_suffix_match_is_case_insensitive(tmp_path: Path) -> None:
    path = write(tmp_path / "README.MD", "# Readme\n\nHello.\n")
    assert load_document(path).title == "Readme"


# ----------------------------------------------------------------------------- chunking


def test_chunks_keep_title_and_heading_path_and_never_exceed_max_chars() -> None:
    sentence = "Employees must submit the form before travelling abroad. "
    long_paragraph = sentence * 60  # ~3,500 chars in one paragraph
    unbroken = "x" * (MAX_CHARS * 2 + 17)  # no sentence breaks at all
    many_paragraphs = "\n\n".join(f"Paragraph {i}: " + sentence * 3 for i in range(30))
    doc = LoadedDocument(
        title="Travel",
        sections=[
            Section(("Booking",), long_paragraph),
            Section(("Booking", "Visas"), unbroken),
            Section(("Claims",), many_paragraphs),
            Section(("Short",), "One line."),
        ],
    )
    chunks = chunk_document(doc)
    assert all(len(c.text) <= MAX_CHARS for c in chunks), max(len(c.text) for c in chunks)
    assert all(c.title == "Travel" for c in chunks)
    assert {c.headings for c in chunks} == {("Booking",), ("Booking", "Visas"), ("Claims",), ("Short",)}
    assert sum(c.headings == ("Booking",) for c in chunks) >= 4
    assert sum(c.headings == ("Booking", "Visas") for c in chunks) == 3
    # Nothing is lost: all the unbroken text is still there.
    assert "".join(c.text for c in chunks if c.headings == ("Booking", "Visas")) == unbroken
    # Paragraph boundaries are respected: every paragraph lands whole in one chunk.
    claims = [c.text for c in chunks if c.headings == ("Claims",)]
    for i in range(30):
        assert sum(f"Paragraph {i}: " in text for text in claims) == 1
    short = next(c for c in chunks if c.headings == ("Short",))
    assert short.text == "One line."
    assert short.heading == "Short"
    assert short.indexed_text == "Travel › Short\nOne line."


def test_chunking_a_loaded_markdown_file(tmp_path: Path) -> None:
    body = "\n\n".join(f"Rule {i}. " + "Keep receipts for audit purposes. " * 10 for i in range(20))
    text = f"---\ntitle: Expenses\n---\n## Receipts\n\n{body}\n\n## Mileage\n\nUse the app.\n"
    path = write(tmp_path / "expenses.md", text)
    chunks = chunk_document(load_document(path))
    assert len(chunks) > 2
    assert all(len(c.text) <= MAX_CHARS for c in chunks)
    assert all(c.title == "Expenses" for c in chunks)
    assert chunks[-1].headings == ("Mileage",) and chunks[-1].text == "Use the app."
    assert {c.headings for c in chunks[:-1]} == {("Receipts",)}


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(LoadedDocument(title="Empty", sections=[])) == []
