"""§7 locale keys (SEEN [D3]): ISO 639-1 two-letter codes, `default`, `zh-Hant`, `zh-Hans`."""

from __future__ import annotations

_ISO_639_1_CODES = """
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu
cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi
ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks
ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl
nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl
sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve
vi vo wa wo xh yi yo za zh zu
"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())

#: §7: the catch-all key and the only two keys that are not ISO 639-1 codes.
SPECIAL_KEYS = frozenset({"default", "zh-Hant", "zh-Hans"})

LOCALE_KEYS = ISO_639_1 | SPECIAL_KEYS

#: For JSON Schema `propertyNames`.
LOCALE_PATTERN = "^(" + "|".join(sorted(LOCALE_KEYS)) + ")$"


def locale_problem(key: str) -> str | None:
    """None for an allowed key, else a message that says what is allowed."""
    if key in LOCALE_KEYS:
        return None
    hint = f" (did you mean '{key.lower()}'?)" if key.lower() in LOCALE_KEYS else ""
    return (
        f"Not a locale key{hint}: use an ISO 639-1 code such as 'en', "
        "or 'default', 'zh-Hant', 'zh-Hans'."
    )
