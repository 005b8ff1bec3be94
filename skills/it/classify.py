"""Offline ticket triage: category, priority (impact × urgency), security flag, title and reasons from free text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from skills.it.normalise import normalise
from skills.it.titles import make_title

CATEGORIES = ("access", "account", "hardware", "software", "network", "security", "other")
PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Triage:
    """What the words of a request say about the ticket it should become, and why."""

    category: str  # one of CATEGORIES
    priority: str  # one of PRIORITIES, P1 critical … P4 low
    security: bool  # an incident that already happened (lure acted on, device lost, malware, compromise): P1
    title: str  # the first meaningful clause, tidied, at most MAX_TITLE characters
    reasons: tuple[str, ...]  # the cues that decided, quoted from the text
    # True: something is broken or needs IT to act (open a ticket). False: a how-to question (answer from the
    # knowledge base first) or a follow-up/thanks about an existing ticket.
    is_problem: bool
    follow_up: bool = False  # a chaser or a thank-you about an existing ticket or answer: no new ticket


@dataclass(frozen=True)
class Cue:
    """A weighted pattern over normalised text; the reason quotes the words it matched."""

    weight: float
    pattern: re.Pattern[str]


def _cues(*pairs: tuple[float, str]) -> tuple[Cue, ...]:
    return tuple(Cue(weight, re.compile(pattern)) for weight, pattern in pairs)


# Patterns run over normalised text: lower case, apostrophes dropped ("can't" → "cant"), anything that is not
# a letter or digit turned into a space, common typos and spellings folded (see normalise).
_DEVICE = (
    r"(laptop|macbook|computer|notebook|thinkpad|phone|iphone|android|ipad|tablet|yubikey|security key|device|"
    r"work phone|mobile|chromebook|bag|backpack|hard drive|usb (stick|drive|key))s?"
)

CATEGORY_CUES: dict[str, tuple[Cue, ...]] = {
    "access": _cues(
        (2.0, r"\baccess (to|for|on)\b|\b(cant|no longer|not able to) access\b"),
        (
            2.0,
            r"\b(need|needs|needed|request\w*|get|give|grant\w*|want|like|add|remove|revoke)( \w+){0,4} "
            r"(access|permissions?|rights|role)\b",
        ),
        (2.5, r"\b(permission\w*|access denied|unauthori[sz]ed|not authori[sz]ed|forbidden)\b"),
        (2.0, r"\b(lost|no longer (have|has)|dont have|doesnt have|cant get) (\w+ )?(access|permissions?)\b"),
        (2.5, r"\b(read|write|edit|admin|viewer|maintainer|owner|editor) (access|rights|role|permissions?)\b"),
        (1.5, r"\b(add|invite|put) (me|us|him|her|them)\b( \w+){0,3} (to|in|on)\b"),
        (1.5, r"\bshared (\w+ )?(drive|folder|space|calendar)s?\b"),
        (
            1.0,
            r"\b(repo|repos|repository|github|gitlab|bitbucket|sharepoint|confluence|jira|looker|tableau|snowflake|"
            r"bucket|warehouse|channel|workspace|project space|folder|dashboard|spreadsheet|admin panel)\b",
        ),
        (1.5, r"\b(new (hire|starter|joiner)|onboard\w*|offboard\w*|last day|contractor|guest login)\b"),
        (1.0, r"\bcant (see|open|edit|merge|view)\b"),
    ),
    "account": _cues(
        (3.0, r"\bpass ?(word|code|phrase)s?\b"),
        (3.0, r"\b(locked out|lock(ed)? me out|account (is |got |was |has been )?locked|lockout)\b"),
        (
            2.5,
            r"\b(2fa|mfa|two factor|multi factor|authenticator|duo|okta verify|otp|one time (code|password)|"
            r"verification code|push notification)s?\b",
        ),
        (2.5, r"\b(sso|okta)\b"),
        (1.5, r"\b(log ?in|logging in|logged out|log on|sign ?in|signing in)\b"),
        (2.0, r"\b(credentials?|username|user ?name|user id)\b"),
        (1.0, r"\b(suspended|deactivated|disabled|expired|re ?enrol\w*)\b"),
        (0.5, r"\b(account|codes?|reset)\b"),
    ),
    "hardware": _cues(
        (1.0, r"\b(laptop|macbook|thinkpad|notebook|computer|pc|desktop|machine|ipad|tablet|chromebook|imac)s?\b"),
        (
            2.5,
            r"\b(keyboard|keybaord|mouse|mice|trackpad|touchpad|webcam|headset|headphones|earbuds|earcup|speakers?|"
            r"docking station|dock|charger|batter(y|ies)|power (cable|adapter|supply|button|brick)|cable|adapter|"
            r"dongle|hdmi|projector|tv|monitors?|printers?|toner|paper jam|jam\w*|scanner|desk phone|dial tone|"
            r"handset|fan|keys)\b",
        ),
        (1.5, r"\b(screen|display|port|hardware|equipment)\b"),
        (
            2.0,
            r"\b(wont|doesnt|cant|not|never) (turn|power|switch|boot)\w*( on| up)?\b|\b(black|blank) (screen|image)\b|"
            r"\bno signal\b|\bflicker\w*|\boverheat\w*|\b(crack\w*|spill\w*|spilt|dropped|fell|loose|frayed)\b",
        ),
        (
            2.0,
            r"\b(replacement|second monitor|new (laptop|monitor|keyboard|mouse|headset|charger|dock)|ergonomic|"
            r"laptop stand|standing desk|move (my )?(desk|monitors?))\b",
        ),
        (1.0, r"\b(plugged in|charging|charge|loud|hot|died|dead|print|printing|scans?)\b"),
    ),
    "software": _cues(
        (
            2.5,
            r"\b(outlook|excel|powerpoint|office 365|zoom|webex|google meet|chrome|firefox|safari|browser|acrobat|"
            r"adobe|photoshop|figma|visio|onedrive|dropbox|rstudio|python|docker|vs ?code|intellij|crm|erp|"
            r"software center|self service|google drive|storage full|quota|disk space)\b",
        ),
        (1.5, r"\b(word|office|teams|slack|salesforce|workday|sap|zendesk|jira)\b"),
        (
            2.0,
            r"\b(install\w*|uninstall\w*|reinstall\w*|software|application|program|plugin|extension|add ?in|"
            r"licen[cs]es?|updates?|updated|upgrade[sd]?|patch)\b",
        ),
        (
            2.0,
            r"\b(crash\w*|freez\w*|frozen|hangs|not responding|error \d+|error code|0x[0-9a-f]+|bug|glitch\w*|"
            r"service unavailable|throws|wont (open|launch|load|start)|stuck (on )?loading|sync paused)\b",
        ),
        (
            1.5,
            r"\b(e?mails?|inbox|mailbox|calendar|invites?|attachments?|sync\w*|notifications?|apps?|font|icon|"
            r"macros?|system|tool|intranet)\b",
        ),
        (1.0, r"\b(errors?|slow|loading|pdf)\b"),
    ),
    "network": _cues(
        (3.0, r"\b(wifi|wireless|vpn|internet|ethernet|lan|dns|proxy|firewall|router|hotspot|access point|network)\b"),
        (1.5, r"\b(wifi password|guest (wifi|network))\b"),
        (
            1.5,
            r"\b(connect\w*|disconnect\w*|dropping|drops|cutting out|bandwidth|latency|packet loss|ping|ip address|"
            r"time ?out|timing out|unblock|whitelist|allow ?list|websites?|web ?sites?|file server|servers?|"
            r"internal (sites?|tools?))\b",
        ),
    ),
    "security": _cues(
        (
            4.0,
            r"\b(phish\w*|scam\w*|spoof\w*|fake|pretend\w*|impersonat\w*|gift ?cards?|ransom\w*|malware|virus\w*|"
            r"trojan|spyware|keylogger|infected|hacked|hacker|compromised|breach\w*|leaked|stolen|stole|theft)\b",
        ),
        (
            2.5,
            r"\b(suspicious|security|encrypt\w*|bitlocker|filevault|unknown (sign in|log ?in|device)|"
            r"found (a|an) usb|usb (stick|drive|key) (i )?found|popups?|antivirus|"
            r"(weird|strange|odd|dodgy) (email|e?mail|text|message|call|link|sms))\b",
        ),
        (
            3.0,
            r"\basking (me )?(for|to (confirm|verify|enter|update|reset|send)) (my |our )?(password|credentials|"
            r"log ?in|bank|card|mfa|2fa)",
        ),
    ),
    "other": _cues(
        (3.0, r"\b(ticket|inc \d+|req \d+|case number|any (update|news)|status of|follow\w* up|escalat\w*|check on)\b"),
        (
            2.5,
            r"\b(support hours|opening hours|who (do|should|can) i (contact|talk|ask|speak)|contact for|thanks|"
            r"thank you|badge|door|card reader|badge reader|keycard|gate|parking|coffee|kitchen|vending|aircon|"
            r"heating)\b",
        ),
    ),
}
# Ties go to the category whose mistakes cost most: a missed security report is worse than a mislabelled printer.
_TIE_ORDER = ("security", "account", "access", "network", "hardware", "software", "other")
_MIN_CATEGORY_SCORE = 1.0

# Security incidents: something already happened (acted on a lure, lost a device, infection, compromise).
_INCIDENT_CUES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (
            "a lure acted on",
            r"\b(clicked|opened|entered|typed|gave|shared|sent|replied|downloaded|ran|installed|scanned|followed)\b"
            r"( \w+){0,20} (phish\w*|fake|suspicious|scam\w*|looked like|pretend\w*|claiming|spoof\w*)\b",
        ),
        (
            "a lure acted on",
            r"\b(phish\w*|fake|suspicious|scam\w*|looked like|pretend\w*|claiming|spoof\w*|caller|said they were)\b"
            r"( \w+){0,12} (clicked|opened|entered|typed|gave|shared|sent|replied|downloaded|ran|installed|scanned|"
            r"followed|fell for)\b",
        ),
        ("a lure acted on", r"\b(clicked|opened|fell for) (on )?(a |the |an )?(phish\w*|scam\w*|malicious|dodgy|bad) "),
        (
            "credentials given away",
            r"\b(shared|gave|told|sent|read out) (\w+ ){0,2}(my |our )?(password|credentials|mfa code|2fa code|pin)\b",
        ),
        (
            "lost or stolen device",
            r"\b(lost|losing|stolen|stole|misplaced|cant find)\b( \w+){0,4} " + _DEVICE + r"\b"
            r"|\bmissing (my |our |a |the |work )?" + _DEVICE + r"\b",
        ),
        (
            "lost or stolen device",
            r"\b" + _DEVICE + r"( \w+){0,4} (was |got |has been |been |is )?(stolen|lost|missing|taken|nicked)\b",
        ),
        (
            "lost or stolen device",
            r"\bleft\b( \w+){0,3} " + _DEVICE + r"( \w+){0,4} (train|taxi|cab|uber|bus|plane|flight|airport|tube|"
            r"subway|metro|restaurant|bar|cafe|hotel|station)\b",
        ),
        ("malware", r"\b(virus|malware|ransom\w*|trojan|spyware|keylogger|infected|cryptolocker)\b"),
        (
            "malware",
            r"\b(program|app|software|extension|popups?)\b( \w+){0,4} (i )?(didnt|never|did not) (install|download)\w*",
        ),
        ("malware", r"\b(weird|random|strange|suspicious) popups?\b|\bpopups? (everywhere|keep)\b"),
        (
            "account compromise or data leak",
            r"\b(hacked|compromised|data breach|breach|leaked)\b|\bsomeone (else )?(logged|signed|logging|signing) "
            r"(in|into)\b|\bunknown (sign in|log ?in|device)\b|\b(sign in|log ?in) alert\b|\bi didnt do that\b|"
            r"\bsending e?mails? as me\b|\b(emailed|sent) to an? (outside|external|personal)\b",
        ),
        (
            "account compromise or data leak",
            r"\b(someone|somebody|a stranger)( \w+){0,2} (is |was |has been |have been )?(sending|using|reading|"
            r"accessing|posting)( \w+){0,4} (from |in |on )?my (account|email|mailbox|inbox|login)\b",
        ),
        (
            "a security incident reported",
            r"\b(i (want|need|have|would like) to|id like to|im|i am) (report|raise|log)\w* "
            r"(a |an )?security incident\b",
        ),
    )
)
# "I didn't click it" is a report of a lure, not an incident.
_NEGATED_ACTION = re.compile(r"\b(didnt|did not|havent|have not|never|without) (click|open|repl|enter|reply|type)\w*")
_HYPOTHETICAL = re.compile(r"\b(if|in case|suppose|what happens when)\b")

_HOWTO = re.compile(
    r"^(how|where|what|whats|which|who|whom|when|why|is (it|there|this)|are (there|we)|does|do (i|we|you)|"
    r"should (i|we)|any (tips|way|idea)|quick question|(can|could) (i|we) (use|bring|connect|take|keep|work|install|"
    r"print|access|see|find|share|change|set|add|move|download|report|know|check))\b"
    r"|\b(how (do|can|should|would) (i|we)|how to|is there a way|what should i do if)\b"
)
_BREAKAGE = re.compile(
    r"\b(not working|isnt working|arent working|doesnt work|dont work|stopped|stops|wont|cant|couldnt|unable|broken|"
    r"broke|errors?|error \d+|fail\w*|crash\w*|freez\w*|frozen|hangs|down|outage|locked|keeps?|kept|slow|no signal|"
    r"jam\w*|denied|reject\w*|expired|missing|disappeared|lost|stolen|clicked|hacked|infected|dead|died|black|blank|"
    r"flicker\w*|overheat\w*|crack\w*|spill\w*|invalid|wrong|never (arrives?|works?|loads?|arrive)|"
    r"not (\w+ing|detected|received|showing|receiving|loading|connecting|syncing|turning)|no (dial tone|internet|sound|"
    r"audio|signal)|problem|issue|trouble|weird|blurry|loud|hot|noisy|stuck|blocked|times? out|timing out|"
    r"unavailable|doesnt seem|still (there|happening|broken|not)|forgot\w*|reset|unlock|re ?enrol\w*|need it back|"
    r"restore|recover|suspended|deactivated|unauthori[sz]ed|throws|glitch\w*|loose|frayed|sticky|crackles?|"
    r"renamed|ransom\w*)\b"
)
_FOLLOW_UP = re.compile(
    r"\b(any (update|news)|status of|check on|follow\w* up|chase|chasing|no one (has )?replied|nobody (has )?replied|"
    r"still waiting|heard back)\b"
)
_THANKS = re.compile(
    r"\b(thanks|thank you|thx|cheers|works (now|again)|working (now|again)|all good now|sorted now|"
    r"fixed now)\b"
)

IMPACT_CUES = _cues(
    (
        2.0,
        r"\b(everyone|everybody|all of us|nobody|no one (can|is able|in|on|here)|company ?wide|org ?wide|"
        r"not just me|others too|other people too|all my colleagues)\b",
    ),
    (
        2.0,
        r"\b(whole|entire) (\w+ ){0,2}(team|office|company|floor|building|department|dept|org|organi[sz]ation|"
        r"staff|site|branch)\b",
    ),
    (
        2.0,
        r"\b(several|multiple|many|lots of|a few|two|three|\d+) (\w+ )?(people|users|colleagues|of us|teams|staff)\b",
    ),
    (
        2.0,
        r"\ball (the |our )?(\w+ )?(reps|users|staff|engineers|people|employees|colleagues|printers|laptops|"
        r"machines|screens)\b",
    ),
    (
        2.0,
        r"\b(team|department|everyone|users|people|staff)( has| have| is| are)? (lost|cant|unable|are unable|"
        r"is unable|are getting|is getting|keeps?|are seeing|is down|are locked|are all)\b",
    ),
    # A broken meeting room spoils every meeting booked in it.
    (2.0, r"\b((conference|meeting|board) ?rooms?|boardroom)\b"),
    (1.0, r"\b(our|my) (\w+ )?(team|department)\b|\bfloor\b|\b(office|building) (wifi|internet|network)\b"),
    (1.0, r"\bshared (mailbox|inbox|drive|folder|calendar)\b"),
)
_WIDE = 2.0

URGENCY_CUES = _cues(
    (2.0, r"\b(cant|unable to) (work|do (any|my) (work|job)|do anything|get any work done)\b|\bdead in the water\b"),
    (2.0, r"\b(cant|unable to) (log ?in|sign ?in|access|use|open|get into) (to |into )?anything\b"),
    (
        2.0,
        r"\b(urgent\w*|asap|emergency|critical|immediately|right away|right now|as soon as possible|"
        r"high priority|sev ?1)\b",
    ),
    (
        2.0,
        r"\b(im|i am|we are|were|team is|everyone is|were all|we re)( completely| totally| all)? (blocked|stuck)\b|"
        r"\b(blocked|blocking) (me|us|our|my)\b|\b(work|export|release|deploy\w*|launch|payroll) (is )?blocked\b",
    ),
    (2.0, r"\b(nobody|no one)( \w+){0,4} can (log|sign|work|connect|access|reach|get in)\w*"),
    (
        1.5,
        r"\b(is|are|went|goes|gone|been|completely|totally|all|seems|looks) down\b|\boutage\b|"
        r"\bdown (for|again|since|across|in)\b",
    ),
    (
        1.5,
        r"\b(deadline|due (today|tonight|tomorrow|at|by|in)|by (eod|end of (the )?day|noon|tonight)|"
        r"(in|within) (an|one|a few|\d+) (min|mins|minutes|hour|hours)\b|starts in|"
        r"before (my|the|our|a) (call|meeting|demo|presentation|flight)|"
        r"(demo|presentation|call|meeting|pitch|interview|webinar|flight)( \w+){0,2} (at|in|by) \d+\w*|"
        r"(has|have|needs?) to be (\w+ )?(today|tonight)|"
        r"launch today|we launch|tonight)\b",
    ),
    (1.5, r"\b(customers?|clients?) (is |are )?waiting\b|\bwaiting on (us|me)\b|\bmissing customer\b"),
    (
        1.0,
        r"\b(customers?|clients?|customer facing|investors?|board (meeting|report)|payroll|production|prod|"
        r"live site|revenue|demo|presentation)\b",
    ),
    (0.5, r"\btoday\b"),
)
_URGENT = 1.5

# Matched first and blanked out, so "not urgent" never counts as "urgent".
_LOW_CUES = _cues(
    (
        1.0,
        r"\b(no rush|not urgent|non urgent|no hurry|not a big deal|not critical|not blocking|low priority|"
        r"whenever( you can)?|when(ever)? you (get|have) (a )?(chance|moment|minute|sec|second|time)|when you can|"
        r"at some point|nice to have|not important|no urgency)\b",
    ),
    (
        1.0,
        r"\b(cosmetic|looks (weird|odd|off|strange|funny|blurry)|blurry|font|icon|wallpaper|typo|tiny|annoying|"
        r"a bit|a little|slightly|minor)\b",
    ),
)
_REQUEST = re.compile(
    r"\b(can|could|would) (i|we) (get|have|borrow|order)\b|"
    r"\b(can|could|would) (you|someone|somebody|it)( please)? (add|give|grant|install|set ?up|create|order|move|"
    r"remove|revoke|unblock|whitelist|enable|upgrade|provide|send)\b|"
    r"\b(please|kindly) (add|give|grant|install|set ?up|create|order|remove|revoke|unblock|whitelist|enable|update|"
    r"move)\b|\b(i|we|they|he|she) (would like|d like|need|needs|want)\b|\bneeds? (a|an|access|new|admin|edit|read|"
    r"write)\b|\brequest\w*\b|\bnew (hire|starter|joiner)\b|\bcan someone give\b|\bgive me\b"
)
# Removing a leaver's access is a request, but lingering access is a risk, so it is not left at P4.
_REVOKE = re.compile(
    r"\b(remove|revoke|disable) (\w+ ){0,2}(access|account)|\blast day\b|\bleft the company\b|"
    r"\bleaver\b|\boffboard\w*"
)


def _matches(cues: Iterable[Cue], text: str) -> list[tuple[Cue, str]]:
    found: list[tuple[Cue, str]] = []
    for cue in cues:
        match = cue.pattern.search(text)
        if match:
            found.append((cue, match.group(0).strip()))
    return found


def _best_category(text: str) -> tuple[str, list[str]]:
    scored = {name: _matches(cues, text) for name, cues in CATEGORY_CUES.items()}
    totals = {name: sum(cue.weight for cue, _ in found) for name, found in scored.items()}
    best = max(_TIE_ORDER, key=lambda name: (totals[name], -_TIE_ORDER.index(name)))
    if totals[best] < _MIN_CATEGORY_SCORE:
        return "other", ["no clear IT area named → other"]
    words = [quoted for _, quoted in sorted(scored[best], key=lambda pair: -pair[0].weight)][:3]
    return best, [f"{_quote(words)} → {best}"]


def _quote(words: Iterable[str]) -> str:
    # A long match ("clicked on a phishing link in a fake") is shown as its ends, so a reason stays one glance long.
    def short(phrase: str) -> str:
        parts = phrase.split()
        return phrase if len(parts) <= 4 else f"{parts[0]} {parts[1]} … {parts[-2]} {parts[-1]}"

    return ", ".join(f"'{short(word)}'" for word in words)


def _incident(text: str, howto: bool) -> list[str]:
    found = [(kind, match.group(0)) for kind, pattern in _INCIDENT_CUES if (match := pattern.search(text))]
    if not found or (howto and _HYPOTHETICAL.search(text)):
        return []
    if _NEGATED_ACTION.search(text):
        # The lure was reported, not acted on; only a loss, an infection or a compromise still counts.
        found = [(kind, quoted) for kind, quoted in found if kind != "a lure acted on"]
    return [f"{_quote([quoted])} → {kind}" for kind, quoted in found[:2]]


def _message_kind(text: str, howto: bool, incident: bool) -> str:
    """Whether to open a ticket ("problem"), answer from the knowledge base ("howto") or neither ("follow_up")."""
    broken = _BREAKAGE.search(text)
    if incident:
        return "problem"
    if broken is None and (_FOLLOW_UP.search(text) or _THANKS.search(text)):
        return "follow_up"
    if howto and broken is None:
        return "howto"
    return "problem"


def _priority(text: str, *, is_problem: bool) -> tuple[str, list[str]]:
    if not is_problem:
        return "P4", []
    reasons: list[str] = []
    low = _matches(_LOW_CUES, text)
    unmasked = text
    for cue, _ in low:
        unmasked = cue.pattern.sub(" ", unmasked)
    impact = _matches(IMPACT_CUES, unmasked)
    urgency = _matches(URGENCY_CUES, unmasked)
    wide = sum(cue.weight for cue, _ in impact) >= _WIDE
    urgent = sum(cue.weight for cue, _ in urgency) >= _URGENT
    if wide:
        reasons.append(f"{_quote(q for _, q in impact[:2])} → wide impact")
    if urgent:
        reasons.append(f"{_quote(q for _, q in urgency[:2])} → urgent")
    if wide and urgent:
        return "P1", reasons
    if urgent:
        return "P2", reasons
    if low:
        return "P4", [f"{_quote(q for _, q in low[:2])} → low urgency"]
    if wide:
        return "P2", reasons
    if _REVOKE.search(text):
        return "P3", ["access removal → P3 (lingering access is a risk)"]
    request = _REQUEST.search(text)
    if request and not _BREAKAGE.search(text):
        return "P4", [f"'{request.group(0)}' → a request, nothing broken"]
    return "P3", ["one person, no urgency cue → P3"]


def triage(text: str) -> Triage:
    """Category, priority, security flag, title and reasons for one employee's message, with no LLM."""
    normalised = normalise(text)
    howto = bool(_HOWTO.search(normalised))
    incident = _incident(normalised, howto)
    kind = _message_kind(normalised, howto, bool(incident))
    reasons: list[str] = []
    if incident:
        category, priority = "security", "P1"
        reasons += incident
        reasons.append("security incident → P1")
    elif kind == "follow_up":
        # A chaser or a thank-you is about a ticket that already has its category; it is not a new IT area.
        category, priority = "other", "P4"
        reasons.append("follow-up or thanks, not a new problem → no new ticket")
    else:
        category, category_reasons = _best_category(normalised)
        priority, priority_reasons = _priority(normalised, is_problem=kind == "problem")
        reasons += category_reasons + priority_reasons
        if kind == "howto":
            reasons.append("how-to question → answer from the knowledge base first")
    return Triage(
        category=category,
        priority=priority,
        security=bool(incident),
        title=make_title(text),
        reasons=tuple(reasons),
        is_problem=kind == "problem",
        follow_up=kind == "follow_up",
    )
