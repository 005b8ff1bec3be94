"""Expense categories, the words and the merchants known by name that say which one a claim is in."""

from __future__ import annotations

import re

CATEGORIES = (
    "travel", "lodging", "meals", "transport", "mileage", "software", "equipment", "phone_internet", "other",
)  # fmt: skip

CUES: dict[str, str] = {}
for _category_name, _cue_words in (
    ("transport", "taxi cab uber lyft train rail railway metro subway tube underground bus tram ferry rideshare "
     "parking toll fuel petrol gas diesel shuttle commute"),
    ("travel", "flight airfare airline plane baggage luggage visa"),
    ("lodging", "hotel motel airbnb hostel lodging accommodation accomodation resort"),
    ("meals", "lunch dinner breakfast brunch coffee meal snack drink food restaurant catering pizza sandwich takeout "
     "takeaway grocery groceries diner cafe café bistro pub"),
    ("mileage", "mileage"),
    ("software", "subscription license licence saas software app plugin hosting domain"),
    ("equipment", "keyboard mouse mice monitor headset headphones earbuds laptop webcam dock charger cable adapter "
     "adaptor chair desk ssd printer ipad tablet microphone mic phone hub"),
    ("phone_internet", "internet wifi wi-fi broadband hotspot roaming"),
    ("other", "other misc miscellaneous sundries conference registration training course books postage shipping "
     "printing stationery gift supplies pens notebooks notepads toner envelopes"),
):  # fmt: skip
    CUES.update(dict.fromkeys(_cue_words.split(), _category_name))
_BIGRAMS = {
    ("phone", "bill"): "phone_internet", ("phone", "plan"): "phone_internet", ("phone", "contract"): "phone_internet",
    ("mobile", "bill"): "phone_internet", ("mobile", "plan"): "phone_internet", ("cell", "bill"): "phone_internet",
    ("data", "plan"): "phone_internet", ("sim", "card"): "phone_internet", ("car", "rental"): "transport",
    ("rental", "car"): "transport", ("car", "hire"): "transport", ("hire", "car"): "transport",
    ("checked", "bag"): "travel", ("per", "diem"): "meals", ("docking", "station"): "equipment",
    ("hard", "drive"): "equipment", ("annual", "plan"): "software",
}  # fmt: skip
# Words after which a cue names a place or a purpose, not what was bought: "dinner at the hotel", "taxi to lunch".
_PLACE_WORDS = frozenset("at to from in near into outside inside for after before during".split())
_DETERMINERS = frozenset("the a an my our his her their this that".split())

# Merchants we know by name (lower case → spelling, category); a few are common words and match only capitalised.
_BRANDS: dict[str, tuple[str, str | None]] = {}
for _category_or_none, _names in (
    ("transport", "Uber|Lyft|Amtrak|Eurostar|Trainline|Addison Lee|Hertz|Avis|Enterprise Rent-A-Car|Sixt|Zipcar"),
    ("travel", "Ryanair|easyJet|Lufthansa|British Airways|KLM|Air France|Delta|United Airlines|American Airlines"
     "|Southwest Airlines|JetBlue|Emirates|Qantas|Air Canada|Wizz Air|Iberia|Turkish Airlines|Expedia"),
    ("lodging", "Marriott|Hilton|Hyatt|Holiday Inn|Ibis|Premier Inn|Novotel|Sheraton|Westin|Radisson|Airbnb"
     "|Best Western|Booking.com"),
    ("meals", "Starbucks|Pret|Pret a Manger|Costa|McDonald's|McDonalds|Chipotle|Deliveroo|DoorDash|Grubhub"
     "|Uber Eats|Just Eat|Dunkin|Tim Hortons|Nando's|Wagamama|Five Guys|Greggs"),
    ("software", "GitHub|GitLab|Figma|Notion|Slack|Zoom|JetBrains|Adobe|Microsoft 365|Office 365|Dropbox|1Password"
     "|Miro|Canva|Atlassian|Jira|Confluence|ChatGPT|OpenAI|Heroku|Vercel|AWS|Google Workspace|Grammarly|Postman"),
    ("equipment", "Logitech|Dell|Lenovo|Apple Store|Best Buy|Currys|B&H|IKEA|Staples"),
    ("phone_internet", "Verizon|AT&T|T-Mobile|Vodafone|Comcast|Xfinity|Virgin Media|Sprint"),
    (None, "Amazon|Walmart|Target|Costco|eBay|Etsy|Apple|Google|Microsoft"),
):  # fmt: skip
    for _name in _names.split("|"):
        _BRANDS[_name.lower()] = (_name, _category_or_none)
_CAPITALISED_ONLY = frozenset({"delta", "notion", "slack", "zoom", "costa", "pret", "target", "sprint", "apple"})
_BRAND_RE = re.compile(
    r"(?<![\w&.-])(?P<name>"
    + "|".join(re.escape(name) for name in sorted(_BRANDS, key=len, reverse=True))
    + r")(?:\.com|\.co\.uk)?(?![\w&-]|\.\w)",  # "amazon.com" is Amazon; "slack.foo" is no brand
    re.I,
)


def brands_in(text: str) -> list[tuple[int, int, str, str | None]]:
    """Known merchants in the text: (start, end, spelling, category)."""
    found = []
    for match in _BRAND_RE.finditer(text):
        key = match.group("name").lower()
        if key in _CAPITALISED_ONLY and not match.group()[0].isupper():
            continue
        name, category = _BRANDS[key]
        found.append((match.start(), match.end(), name, category))
    return found


def singular(word: str) -> str:
    if word in CUES or len(word) < 4 or not word.endswith("s"):
        return word
    for cut in ("es", "s"):
        if word.endswith(cut) and word[: -len(cut)] in CUES:
            return word[: -len(cut)]
    return word


def read_category(words: list[tuple[int, int, str]], brands: list[tuple[int, int, str, str | None]]) -> str | None:
    """The category of what was bought: the first cue that isn't a place or purpose; "hotel dinner" is a dinner."""
    hits: list[tuple[int, str, bool]] = []  # word index, category, demoted
    lowered = [word.lower() for _, _, word in words]

    def demoted(index: int) -> bool:
        before = index - 1
        while before >= 0 and lowered[before] in _DETERMINERS:
            before -= 1
        return before >= 0 and lowered[before] in _PLACE_WORDS

    skip: set[int] = set()
    for start, end, _name, brand_category in brands:
        inside = [i for i, (s, e, _) in enumerate(words) if s >= start and e <= end]
        skip.update(inside)
        if brand_category and inside:
            hits.append((inside[0], brand_category, demoted(inside[0])))
    for i, word in enumerate(lowered):
        if i in skip:
            continue
        pair = _BIGRAMS.get((word, lowered[i + 1])) if i + 1 < len(lowered) else None
        if pair:
            hits.append((i, pair, demoted(i)))
            skip.add(i + 1)
            continue
        category = CUES.get(singular(word))
        if category:
            hits.append((i, category, demoted(i)))
    if not hits:
        return None
    hits.sort()
    kept = [hit for hit in hits if not hit[2]] or hits
    index, category, _ = kept[0]
    for later_index, later_category, _ in kept[1:]:
        if later_index != index + 1:
            break
        index, category = later_index, later_category  # a noun compound names its last word: "hotel wifi"
    return category
