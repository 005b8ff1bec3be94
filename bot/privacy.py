"""Personal data and sensitive topics: `redact_pii` replaces national ids, bank and card numbers with labelled
placeholders; `sensitive_topic` spots medical, harassment and grievance matters; `RedactingFilter` keeps both
out of the logs.

Deterministic on purpose: curated patterns with word boundaries, so a routine message ("calling in sick",
"where is the anti-harassment policy?") behaves the same every time and tests can pin it down. Patterns only
find candidates for numbers with check digits: python-stdnum decides whether an IBAN, card number or SSN is one,
except right after its keyword ("my iban is …"), where the writer's word is enough (benchmarks/privacy).

What counts as sensitive (decided, tested in tests/bot/test_privacy.py):
- a *disclosure or report*: the person's own medical condition or treatment ("my doctor says I need surgery"),
  harassment, bullying or discrimination that happened ("he keeps touching my arm"), a grievance or formal
  complaint they want to raise ("I want to file a formal complaint about my team lead");
- not a routine leave or benefits request ("calling in sick", "doctor's appointment at 9", "my dad's surgery"),
  and not a generic question about a policy ("where is the anti-harassment policy?", "how do I report
  harassment?"): those carry no personal account and are best answered from the SOPs with citations. A
  generic question that names a person ("how do I report my manager for harassment?") is a report.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

from stdnum import iban, luhn
from stdnum.us import ssn

MEDICAL, HARASSMENT, GRIEVANCE = "medical", "harassment", "grievance"
TOPIC_LABELS = {MEDICAL: "a health matter", HARASSMENT: "a harassment or conduct concern", GRIEVANCE: "a grievance"}

# ------------------------------------------------------------------ personal data


# Issuer prefixes and lengths of the card schemes (ISO/IEC 7812): what stdnum's Luhn check cannot tell, so that
# other Luhn-valid numbers (IMEIs, 14-digit meeting ids, 17-digit order ids) are not taken for cards.
_CARD_SCHEMES: tuple[tuple[int, int, int, range | tuple[int, ...]], ...] = (
    # (prefix digits, first prefix, last prefix, lengths)
    (1, 4, 4, (13, 16, 19)),  # Visa
    (2, 51, 55, (16,)),  # Mastercard
    (4, 2221, 2720, (16,)),  # Mastercard 2-series
    (2, 34, 34, (15,)),  # American Express
    (2, 37, 37, (15,)),
    (3, 300, 305, range(14, 20)),  # Diners Club
    (2, 36, 36, range(14, 20)),
    (2, 38, 39, range(16, 20)),
    (4, 3528, 3589, range(16, 20)),  # JCB
    (2, 50, 50, range(13, 20)),  # Maestro
    (2, 56, 69, range(13, 20)),  # Maestro, Discover, UnionPay, RuPay
)


def _card_number_ok(digits: str, groups: list[int]) -> bool:
    """A scheme's prefix and length, written as cards are (unbroken, in fours, or Amex/Diners 4-6-5 and 4-6-4),
    and a Luhn check digit."""
    if not (len(groups) == 1 or groups in ([4, 6, 5], [4, 6, 4]) or set(groups[:-1]) == {4} and groups[-1] <= 4):
        return False
    if not any(lo <= int(digits[:n]) <= hi and len(digits) in sizes for n, lo, hi, sizes in _CARD_SCHEMES):
        return False
    return luhn.is_valid(digits)


# A run of digit groups joined by single spaces or dashes ("4111 1111-1111 1111"); not part of a longer token, of
# a phone number ("+49 1512 …") or of an IBAN-shaped code that failed its check ("DE00 5001 0517 …").
_DIGIT_RUN = re.compile(r"(?<![\w./,+-])(?<![A-Za-z]{2}\d{2} )\d+(?:[ -]\d+)*(?![\w/-])")


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of card numbers (_card_number_ok). Within a longer run of groups ("card 4111 1111 1111 1111 2027")
    the longest valid window of whole groups is taken."""
    for run in _DIGIT_RUN.finditer(text):
        groups = [(m.start() + run.start(), m.end() + run.start()) for m in re.finditer(r"\d+", run.group())]
        i = 0
        while i < len(groups):
            ends: list[int] = []  # window ends (exclusive) giving 13–19 digits from group i
            total = 0
            for j in range(i, len(groups)):
                total += groups[j][1] - groups[j][0]
                if total > 19:
                    break
                if total >= 13:
                    ends.append(j + 1)
            found = None
            for end in reversed(ends):
                window = groups[i:end]
                if _card_number_ok("".join(text[s:e] for s, e in window), [e - s for s, e in window]):
                    found = end
                    break
            if found is None:
                i += 1
                continue
            yield groups[i][0], groups[found - 1][1]
            i = found


# Candidates only: stdnum decides (the pattern may also take a short word after the number: "… 1332 not").
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b", re.I)


def _redact_iban(match: re.Match[str]) -> str:
    """The longest run of whole groups from the start that is an IBAN, replaced. The country's length and format
    and the mod-97 check digits are checked, not stdnum's bank directories (a bank missing there is no reason
    to leave an account in the clear)."""
    value = match.group()
    cut = len(value)
    while cut > 0:
        if iban.is_valid(value[:cut], check_country=False):
            return "[IBAN]" + value[cut:]
        cut = value.rfind(" ", 0, cut)
    return value


_IBAN_KEYWORD = re.compile(
    r"\biban\b[\s:#=]*(?:is\s+|was\s+)?(?P<value>[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{1,4}){3,8})\b", re.I
)
# Candidates only (123-45-6789, 123 45 6789, not inside a longer id such as REQ-512-33-8841); stdnum decides.
_SSN = re.compile(r"(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w-])")
_SSN_KEYWORD = re.compile(
    r"\b(?:ssn|social security(?: number| no\.?| #)?)[\s:#=]*(?:is\s+|was\s+)?(?P<value>\d{3}[- ]?\d{2}[- ]?\d{4})\b",
    re.I,
)
_UK_NI = re.compile(
    r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
    re.I,
)
_KEYWORD_GAP = r"[\s:#=]*(?:(?:is|was|are)\s+)?[\s:#=]*"
_UK_NI_KEYWORD = re.compile(
    r"\b(?:ni|nino|national insurance)(?:\s+(?:number|no\.?|num|#))?"
    + _KEYWORD_GAP
    + r"(?P<value>[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])\b",
    re.I,
)
_SORT_CODE = re.compile(
    r"\b(?:sort[- ]?code|bsb)" + _KEYWORD_GAP + r"(?P<value>\d{2}[- ]?\d{2}[- ]?\d{2}|\d{3}[- ]?\d{3})\b", re.I
)
_ROUTING = re.compile(
    r"\b(?:routing|aba|transit)(?:\s+(?:number|no\.?|num|#))?" + _KEYWORD_GAP + r"(?P<value>\d{9})\b", re.I
)
_ACCOUNT = re.compile(
    r"\b(?:bank\s+)?(?:account|acct|a/c)(?:\s+(?:number|no\.?|num|#))?"
    + _KEYWORD_GAP
    + r"(?P<value>\d(?:[ -]?\d){5,16})\b",
    re.I,
)
# "AWS account 123456789012", "service account 4410…": an account of a system, not at a bank. Its number is not
# a payment detail (and an IT request naming it must not be refused as one).
_SYSTEM_ACCOUNT = re.compile(
    r"\b(?:aws|azure|gcp|google|cloud|slack|service|user|admin|email|e-mail|github|gitlab|jira|okta|salesforce"
    r"|zoom|microsoft|apple|workday|customer|vendor|supplier|test|sandbox|expense|ledger|gl)\s*$",
    re.I,
)
_PASSPORT = re.compile(
    r"\bpassport(?:\s+(?:number|no\.?|num|#))?" + _KEYWORD_GAP + r"(?P<value>(?=[A-Z]*\d)[A-Z0-9]{6,9})\b", re.I
)


def _sub_value(pattern: re.Pattern[str], label: str, text: str) -> str:
    """Replace only the number after the keyword, so the sentence still reads ("my account number is [...]")."""
    return pattern.sub(lambda m: m.group(0)[: m.start("value") - m.start()] + label, text)


def redact_pii(text: str) -> str:
    """The text with national ids, IBANs, bank account/routing/sort codes, card numbers and passport numbers
    replaced by labelled placeholders such as "[card number]"."""
    if not text or not any(ch.isdigit() for ch in text):
        return text
    text = _IBAN.sub(_redact_iban, text)
    text = _sub_value(_IBAN_KEYWORD, "[IBAN]", text)
    spans = list(_card_spans(text))
    for start, end in reversed(spans):
        text = text[:start] + "[card number]" + text[end:]
    text = _sub_value(_SSN_KEYWORD, "[SSN]", text)
    text = _SSN.sub(lambda m: "[SSN]" if ssn.is_valid(m.group().replace(" ", "-")) else m.group(), text)
    text = _sub_value(_UK_NI_KEYWORD, "[NI number]", text)
    text = _UK_NI.sub("[NI number]", text)
    text = _sub_value(_SORT_CODE, "[sort code]", text)
    text = _sub_value(_ROUTING, "[routing number]", text)
    text = _ACCOUNT.sub(
        lambda m: (
            m.group(0)
            if _SYSTEM_ACCOUNT.search(m.string[: m.start()])
            else m.group(0)[: m.start("value") - m.start()] + "[account number]"
        ),
        text,
    )
    return _sub_value(_PASSPORT, "[passport number]", text)


_PAYMENT_LABELS = ("[IBAN]", "[card number]", "[account number]", "[routing number]", "[sort code]")


def has_payment_details(text: str) -> bool:
    """The text holds a bank account (IBAN, account, routing or sort code) or a payment card number."""
    redacted = redact_pii(text)
    return redacted != text and any(label in redacted and label not in text for label in _PAYMENT_LABELS)


# ------------------------------------------------------------------ sensitive topics

_PERSON = (
    r"(?:line\s+)?(?:manager|boss|supervisor|team ?lead|lead|director|head of \w+|ceo|cto|cfo|coo|vp|colleague|"
    r"co-?worker|teammate|team mate|peer|client|customer|mentor|skip[- ]level|recruiter|contractor)s?"
)
_ME = r"(?:i'm|im|i am|i've|ive|i have|i was|i got|i get|i keep getting|i feel|i felt|we're|we are|we've|we were)"

# Names of documents, trainings and benefits: a question about them is not a disclosure.
_NEUTRAL = re.compile(
    r"\banti[- ]?(?:harassment|bullying|discrimination|racism|retaliation)\b"
    r"|\b(?:sexual\s+)?(?:harassment|bullying|discrimination|grievance|complaints?|whistle[- ]?blow\w*|disciplinary|"
    r"retaliation|dignity at work|equal opportunit\w*|code of conduct)\s+(?:policy|policies|procedures?|process|"
    r"training|course|module|guidelines?|guide|form|officer|page|document|doc|section|rules?)\b"
    r"|\bmental health (?:days?|first[- ]aiders?|week|awareness|app|allowance|stipend|benefits?|training)\b"
    r"|\bdisability (?:insurance|benefits?|cover(?:age)?|leave polic(?:y|ies))\b"
    r"|\b(?:sick|medical|maternity|paternity|parental) (?:leave|days?|note|pay|certificate|plan|insurance|"
    r"cover(?:age)?|appointment)\b"
)
# A question about how things work in general, unless it names who did it ("… by my manager").
_GENERIC = re.compile(
    r"^\s*(?:how|where|who|whom|when|which|what|why)\b"
    r"|^\s*(?:is|are|do|does|can|could|should|would|will)\s+(?:there|we|employees|staff|people|someone|somebody|"
    r"anyone|you|the|our|my|a|an|it|this|that)\b"
    r"|^\s*(?:if|in case|suppose|hypothetically)\b"
)
_ANCHOR = re.compile(r"\b(?:by|from|against|with|about)\s+(?:my|our)\s+\w+|\bmy\s+" + _PERSON + r"\b")
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|my|myself)\b")
_OTHERS = re.compile(
    r"\b(?:he|she|they|him|them|his|her|hers|their|theirs|someone|somebody|anyone|employees?|people|dad|father|"
    r"mum|mom|mother|parents?|wife|husband|partner|spouse|son|daughter|child|children|kids?|baby|brother|sister|"
    r"siblings?|grand\w*|aunt|uncle|cousin|nephew|niece|friends?|colleagues?|co-?workers?|neighbou?rs?|dog|cat|"
    r"pet|in-laws?|family|fianc[eé]e?|boyfriend|girlfriend)\b"
)
_SENTENCE = re.compile(r"[^.!?;\n]+")


@dataclass(frozen=True)
class _Cue:
    topic: str
    pattern: re.Pattern[str]
    # "explicit": enough on its own; "context": not in a generic question; "own": also about the writer themself
    kind: str


def _cue(topic: str, kind: str, pattern: str) -> _Cue:
    return _Cue(topic, re.compile(pattern), kind)


_CUES: tuple[_Cue, ...] = (
    # ---- harassment, bullying, discrimination
    _cue(
        HARASSMENT,
        "explicit",
        r"\b(?:harass\w*|bull(?:y|ies|ied|ying)|intimidat\w*|threaten\w*|grop\w*|stalk\w*|belittl\w*|humiliat\w*|"
        r"mock(?:s|ed|ing)?|insult\w*|abus\w*|assault\w*|molest\w*|discriminat\w*|victimi[sz]\w*|pick(?:s|ed|ing)? on|"
        r"single[sd]? out|singling out|touch(?:es|ed|ing)?|grab\w*|kiss\w*|hug(?:s|ged|ging)?|rub(?:s|bed|bing)?|"
        r"fondl\w*)\s+(?:against\s+)?(?:me|us)\b"
        r"|\b(?:yell\w*|scream\w*|shout\w*|swear\w*|swore|snap(?:s|ped|ping)?|spat|spit\w*)\s+at\s+(?:me|us)\b"
        r"|\bfollow(?:s|ed|ing)? me (?:home|to my car|around)\b",
    ),
    _cue(
        HARASSMENT,
        "explicit",
        r"\b(?:touch\w*|grab\w*|kiss\w*|rub\w*|fondl\w*|stroke[sd]?|stroking|pinch\w*|slapp?\w*)\s+my\s+(?:arm|arms|"
        r"shoulders?|back|waist|legs?|knees?|thighs?|hands?|hair|face|neck|bum|butt|bottom|chest|breasts?|hips?|body)\b",
    ),
    _cue(
        HARASSMENT,
        "explicit",
        r"\b(?:comment\w*|remark\w*|jokes?|joking|joked|questions?|asking|asks|asked)\s+(?:\w+\s+){0,2}?about\s+my\s+"
        r"(?:body|appearance|looks|weight|figure|chest|breasts|boobs|bum|butt|legs|skin|skin colou?r|race|ethnicity|"
        r"religion|faith|hijab|turban|accent|age|gender|sexuality|sexual orientation|disability|pregnancy|sex life|"
        r"clothes|outfit|dating life)\b",
    ),
    _cue(
        HARASSMENT,
        "explicit",
        r"\b(?:keeps?|kept|won't stop|wont stop|keep on|repeatedly)\s+(?:asking|asked)\s+me\s+out\b"
        r"|\b(?:sends?|sent|sending)\s+me\s+(?:\w+\s+)?(?:explicit|sexual|nude|naked|inappropriate|dirty|creepy|"
        r"lewd|suggestive|threatening|racist|sexist)\s+\w+",
    ),
    _cue(
        HARASSMENT,
        "context",
        r"\b" + _ME + r"\s+(?:\w+\s+){0,2}?(?:being\s+|been\s+)?(?:harassed|bullied|intimidated|threatened|groped|"
        r"stalked|assaulted|molested|discriminated against|victimi[sz]ed|belittled|humiliated|picked on|singled out|"
        r"abused|mocked|insulted|targeted|touched)\b"
        r"|\b(?:being|been|getting|got)\s+(?:sexually\s+)?(?:harassed|bullied|groped|stalked|assaulted|molested|"
        r"discriminated against)\b",
    ),
    _cue(
        HARASSMENT,
        "context",
        r"\b(?:unwanted|unwelcome|inappropriate(?:ly)?|explicit|lewd|creepy|suggestive|offensive|racist|sexist|"
        r"homophobic|transphobic|misogynistic|degrading|sexual)\s+(?:\w+\s+)?(?:comments?|remarks?|jokes?|messages?|"
        r"texts?|dms?|photos?|pictures?|images?|advances?|attention|contact|touching|touches|behaviou?r|gestures?|"
        r"language|slurs?|emails?|propositions?)\b",
    ),
    _cue(
        HARASSMENT,
        "context",
        r"\bsexual(?:ly)?\s+(?:harass\w*|assault\w*|abus\w*|misconduct|innuendo|favou?rs?)\b"
        r"|\b(?:racial|verbal|physical|emotional)(?:ly)?\s+abus\w*|\babusive\b|\bslurs?\b|\bhate speech\b"
        r"|\b(?:hostile|toxic|abusive)\s+(?:work(?:ing)?\s+)?environment\b",
    ),
    _cue(
        HARASSMENT,
        "context",
        r"\b(?:harassment|bullying|discrimination|racism|sexism|homophobia|transphobia|intimidation|victimi[sz]ation|"
        r"assault)\b",
    ),
    # ---- grievances, complaints, whistleblowing
    _cue(GRIEVANCE, "context", r"\bformal\s+(?:complaint|grievance)s?\b|\bgrievances?\b"),
    _cue(
        GRIEVANCE,
        "context",
        r"\b(?:complain\w*|complaints?)\s+(?:about|against|of|regarding)\s+(?:my|our|a|an|the)?\s*(?:" + _PERSON + r"|"
        r"him|her|them|hr)\b",
    ),
    _cue(GRIEVANCE, "context", r"\bwhistle[- ]?blow\w*|\bblow(?:s|ing)? the whistle\b|\bprotected disclosure\b"),
    _cue(
        GRIEVANCE,
        "context",
        r"\b(?:treated|treating|treats|treat)\s+(?:me|us)\s+(?:\w+\s+)?(?:unfairly|differently|badly|worse|"
        r"like (?:dirt|garbage|rubbish|a child))\b"
        r"|\b" + _ME + r"\s+(?:being\s+|been\s+)?treated\s+(?:\w+\s+)?(?:unfairly|differently|badly|worse)\b"
        r"|\bunfair(?:ly)?\s+(?:treatment|dismiss\w*|fired|sacked|demot\w*|disciplin\w*|terminat\w*|passed over)\b"
        r"|\b(?:wrongful(?:ly)?|unlawful(?:ly)?)\s+(?:dismiss\w*|terminat\w*|fired|sacked|demot\w*)\b"
        r"|\bconstructive(?:ly)?\s+dismiss\w*\b",
    ),
    _cue(GRIEVANCE, "context", r"\bretaliat\w*|\breprisals?\b"),
    _cue(
        GRIEVANCE,
        "context",
        r"\b(?:denied|passed over for|refused|blocked from)\s+(?:a\s+|my\s+|the\s+)?(?:promotion|raise|pay rise)\s+"
        r"(?:because|since|for being)\b",
    ),
    _cue(
        GRIEVANCE,
        "explicit",
        r"\b" + _ME + r"\s+(?:being\s+|been\s+)?paid\s+less\s+than\b"
        r"|\b(?:i'm|im|i am|i was|i've been|ive been|i have been|i got|i'm being|i am being|i'm going to be|"
        r"i am going to be)\s+(?:\w+\s+)?(?:fired|sacked|dismissed|let go|laid off|made redundant)\b",
    ),
    _cue(
        GRIEVANCE,
        "explicit",
        r"\b(?:my|our|the)\s+" + _PERSON + r"\s+(?:is|are|was|were|has been|have been|keeps?|kept)\s+(?:\w+\s+)?"
        r"(?:falsifying|fiddling|fudging|faking|committing fraud|embezzl\w*|stealing|taking bribes|lying about|"
        r"covering up)\b",
    ),
    _cue(GRIEVANCE, "context", r"\breport(?:ing)?\s+(?:my|our)\s+" + _PERSON + r"\b"),
    _cue(
        GRIEVANCE,
        "own",
        r"\bdisciplinary\b|\b(?:final\s+)?written warning\b|\bperformance improvement plan\b",
    ),
    # ---- the writer's own health
    _cue(
        MEDICAL,
        "explicit",
        r"\b(?:kill myself|end my life|take my (?:own )?life|hurt myself|harm myself|self[- ]harm\w*)\b",
    ),
    _cue(
        MEDICAL,
        "own",
        r"\b(?:cancer|tumou?rs?|chemo\w*|radiotherapy|radiation (?:therapy|treatment)|leuka?emia|lymphoma|hiv|aids|"
        r"multiple sclerosis|parkinson'?s|alzheimer'?s|dementia|epilep\w*|seizures?|heart attack|heart condition|"
        r"had a stroke|suffered a stroke|diabetes|diabetic|miscarr\w*|ivf|fertility (?:treatment|issues?|problems?)|"
        r"terminal(?:ly)? ill\w*|ptsd|bipolar|schizophreni\w*|adhd|autis\w*|eating disorder|anorexi\w*|bulimi\w*|"
        r"depression|depressed|anxiety (?:disorder|attacks?)|panic attacks?|(?:nervous |mental )?breakdown|"
        r"mental illness|mental health|burn(?:ed|t)[ -]?out|burnout|suicid\w*|overdos\w*|"
        r"(?:alcohol|drug|substance|gambling|opioid) (?:addiction|abuse|problem|dependency)|alcoholi\w*|rehab|"
        r"surgery|transplant|biopsy|mri scan|disabilit\w*|chronic (?:illness|pain|condition|fatigue)|"
        r"(?:medical|health) condition|long[- ]term (?:illness|condition|sickness)|long covid|hospitali[sz]\w*|"
        r"in (?:the )?hospital|admitted to (?:the )?hospital|pregnan\w*|therapist|therapy|psychiatri\w*|"
        r"psychologist|counsell?or|medication|antidepressants?|reasonable (?:accommodations?|adjustments?)|"
        r"(?:been|was|got|get|getting|just|recently|newly)\s+diagnosed|diagnosed with|my diagnosis|"
        r"(?:need|needs|having|have|had|get|getting|booked|scheduled|recovering from)\s+(?:an?\s+)?(?:\w+\s+)?"
        r"operation)\b",
    ),
    _cue(
        MEDICAL,
        "own",
        r"\b(?:struggling|suffering|dealing|coping|living)\s+with\s+(?:my\s+)?(?:anxiety|stress|grief|addiction|"
        r"an? (?:illness|condition))\b|\bsigned off (?:with|for) (?:stress|anxiety|depression|burnout)\b",
    ),
)


def _normalise(text: str) -> str:
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return re.sub(r"\s+", " ", text)


def _about_the_writer(sentence: str, start: int, matched: str) -> bool:
    """A first-person word leads up to the match in the same sentence, with nobody else in between
    ("I need surgery" yes; "look after my dad after his surgery" no)."""
    if re.match(r"my\b", matched):
        return True
    markers = list(_FIRST_PERSON.finditer(sentence, 0, start))
    if not markers:
        return False
    between = sentence[markers[-1].end() : start]
    return len(between) <= 60 and _OTHERS.search(between) is None


def sensitive_topic(text: str) -> str | None:
    """ "medical", "harassment" or "grievance" when the message discloses or reports one; None otherwise."""
    if not text:
        return None
    normal = _NEUTRAL.sub(" ", _normalise(text))
    for sentence_match in _SENTENCE.finditer(normal):
        sentence = sentence_match.group()
        generic = _GENERIC.search(sentence) is not None and _ANCHOR.search(sentence) is None
        for cue in _CUES:
            for match in cue.pattern.finditer(sentence):
                if cue.kind != "explicit" and generic:
                    continue
                if cue.kind == "own" and not _about_the_writer(sentence, match.start(), match.group()):
                    continue
                return cue.topic
    return None


def stored_text(text: str) -> str:
    """What may be kept of an inbound message: a placeholder for a sensitive one, otherwise the text with
    personal data redacted."""
    topic = sensitive_topic(text)
    if topic is not None:
        return f"[confidential message about {TOPIC_LABELS[topic]}, passed to HR]"
    return redact_pii(text)


# ------------------------------------------------------------------ logs

WITHHELD = "[log message withheld: it concerns a confidential topic]"


class RedactingFilter(logging.Filter):
    """Redacts personal data in every record (message, arguments, exception and stack text) and withholds a
    record that concerns a sensitive topic. Installed on handlers, so it sees records from every logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is still logged, unformatted
            message = str(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        extra = "\n".join(part for part in (record.exc_text, record.stack_info) if part)
        if _is_sensitive(message) or (extra and _is_sensitive(extra)):
            record.msg, record.args = WITHHELD, None
            record.exc_text = record.stack_info = None
            record.exc_info = None
            return True
        record.msg, record.args = redact_pii(message), None
        if record.exc_text:
            record.exc_text = redact_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_pii(record.stack_info)
        return True


def _is_sensitive(text: str) -> bool:
    # Request bodies logged by HTTP clients are often URL-encoded ("my+manager+keeps...").
    if sensitive_topic(text) is not None:
        return True
    if "%" in text or "+" in text:
        return sensitive_topic(unquote_plus(text)) is not None
    return False


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add the redacting filter to every handler of `logger` (default: the root logger) and to logging's
    last-resort handler; idempotent."""
    target = logger or logging.getLogger()
    found = next(
        (f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)),
        None,
    )
    log_filter = found or RedactingFilter()
    handlers = list(target.handlers)
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(log_filter)
    return log_filter
