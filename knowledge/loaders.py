"""Turn a source file into a titled list of sections (heading path + text).

Markdown front matter gives title/audience/url; template tags ({% … %}, {{ … }}) are removed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# libyaml's loader parses front matter ~10× faster than the pure-Python one (a twentieth of an ingest's time);
# PyYAML wheels ship it, but a build without libyaml still works with the slower one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
AUDIENCES = ("everyone", "managers", "hr", "it")


class UnsupportedDocument(ValueError):
    """The file type is not one we ingest."""


class CorruptDocument(ValueError):
    """The file could not be read (damaged, encrypted, not what its name says)."""


class BadFrontMatter(CorruptDocument):
    """The front matter says something we cannot honour (e.g. an unknown audience): refused, never guessed."""


@dataclass
class Section:
    headings: tuple[str, ...]
    text: str


@dataclass
class LoadedDocument:
    title: str
    sections: list[Section]
    audience: str = "everyone"
    url: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not any(s.text.strip() for s in self.sections)


class _SectionBuilder:
    """Collects text under the current heading path; a new heading closes the running section."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self._stack: list[tuple[int, str]] = []
        self._lines: list[str] = []

    @property
    def empty(self) -> bool:
        return not self.sections and not self._stack

    def heading(self, level: int, name: str) -> None:
        self.flush()
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, name))

    def text(self, line: str) -> None:
        self._lines.append(line)

    def flush(self) -> list[Section]:
        text = "\n".join(self._lines).strip()
        if text:
            self.sections.append(Section(tuple(name for _, name in self._stack), text))
        self._lines.clear()
        return self.sections


_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)
_TEMPLATE_BLOCK = re.compile(r"\{%-?\s*(alert|raw|comment)\b.*?%\}|\{%-?\s*end\w*\s*-?%\}", re.DOTALL)
_PAGE_LINK = re.compile(r"\{%-?\s*page\s+[\"']([^\"']*)[\"']\s*-?%\}")
_TEMPLATE_TAG = re.compile(r"\{%.*?%\}|\{\{.*?\}\}|\{#.*?#\}", re.DOTALL)
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]*)[^)]*\)")
_HTML_TAG = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def strip_templates(text: str) -> str:
    text = _PAGE_LINK.sub(lambda m: m.group(1), text)
    text = _TEMPLATE_BLOCK.sub("", text)
    return _TEMPLATE_TAG.sub("", text)


def _clean_inline(text: str) -> str:
    text = _MD_IMAGE.sub(lambda m: m.group(1), text)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _HTML_TAG.sub("", text)
    text = re.sub(r"[*_`]{1,3}([^*_`\n]+)[*_`]{1,3}", r"\1", text)
    return text


def split_front_matter(raw: str) -> tuple[dict[str, object], str]:
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    try:
        data = yaml.load(match.group(1), Loader=_YAML_LOADER)
    except yaml.YAMLError:
        data = None
    return (data if isinstance(data, dict) else {}), raw[match.end() :]


def _title_from_name(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ").strip().capitalize() or path.name


def parse_markdown(raw: str, fallback_title: str) -> LoadedDocument:
    meta, body = split_front_matter(raw)
    body = strip_templates(body)
    title = str(meta.get("title") or "").strip()
    builder = _SectionBuilder()
    in_code = False
    for line in body.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = None if in_code else _HEADING.match(line)
        if heading is None:
            builder.text(_clean_inline(line))
            continue
        level, name = len(heading.group(1)), _clean_inline(heading.group(2)).strip()
        if level == 1 and not title and builder.empty:
            builder.flush()
            title = name
            continue
        builder.heading(level, name)
    sections = builder.flush()
    audience = str(meta.get("audience") or "everyone").strip().lower()
    if audience not in AUDIENCES:
        # A typo must not publish a restricted document to the whole company: refuse it, by name, at ingest.
        raise BadFrontMatter(f"unknown audience {audience!r}; use one of: {', '.join(AUDIENCES)}")
    url = meta.get("url") or meta.get("permalink")
    return LoadedDocument(
        title=title or fallback_title,
        sections=sections,
        audience=audience,
        url=str(url) if url else None,
    )


def _load_html(path: Path) -> LoadedDocument:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    builder = _SectionBuilder()
    for element in soup.find_all(["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre"]):
        text = element.get_text(" ", strip=True)
        if not text:
            continue
        if element.name and len(element.name) == 2 and element.name.startswith("h"):
            level = int(element.name[1])
            if level == 1 and not title:
                title = text
            else:
                builder.heading(level, text)
        else:
            builder.text(text)
    sections = builder.flush()
    return LoadedDocument(title=title or _title_from_name(path), sections=sections)


def _load_pdf(path: Path) -> LoadedDocument:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            raise CorruptDocument("the PDF is encrypted")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise CorruptDocument(f"cannot read PDF: {exc}") from exc
    sections = [Section((f"Page {n}",), text) for n, text in enumerate(pages, start=1) if text]
    return LoadedDocument(title=str(meta_title).strip() or _title_from_name(path), sections=sections)


def _load_docx(path: Path) -> LoadedDocument:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError) as exc:
        raise CorruptDocument(f"cannot read DOCX: {exc}") from exc
    title = (document.core_properties.title or "").strip()
    builder = _SectionBuilder()
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title" and not title:
            title = text
        elif style.startswith("Heading"):
            builder.heading(int(style.split()[-1]) if style.split()[-1].isdigit() else 1, text)
        else:
            builder.text(text)
    sections = builder.flush()
    return LoadedDocument(title=title or _title_from_name(path), sections=sections)


def load_document(path: Path) -> LoadedDocument:
    """Read one supported file; raise UnsupportedDocument or CorruptDocument with a clear reason."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedDocument(f"unsupported file type {suffix or '(none)'}")
    if suffix == ".pdf":
        return _load_pdf(path)
    if suffix == ".docx":
        return _load_docx(path)
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDocument("not valid UTF-8 text") from exc
    if "\x00" in raw:
        raise CorruptDocument("binary content in a text file")
    if suffix in (".html", ".htm"):
        return _load_html(path)
    if suffix == ".txt":
        text = raw.strip()
        first = text.splitlines()[0].strip() if text else ""
        title = first if 0 < len(first) <= 80 else _title_from_name(path)
        return LoadedDocument(title=title, sections=[Section((), text)] if text else [])
    return parse_markdown(raw, _title_from_name(path))
