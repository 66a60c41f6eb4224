"""Normalised entity names (``entities.norm``), so analysts can group mentions of one entity.

A mention keeps its exact text (``body[start_char:end_char]``); ``norm`` is the name it stands
for. The rules are deliberately conservative and work within one article, where the evidence is:

1. whitespace collapsed, surrounding quotes and punctuation removed;
2. possessive/genitive endings dropped when the bare form is known: English ``'s``; German
   ``-s``/``-es`` when the bare form is another mention of the same label in the article or a
   name of the model's gazetteer (``Südkoreas`` -> ``Südkorea``, ``Japans`` -> ``Japan``);
   ``Paris`` stays, because nothing says ``Pari`` is a name;
3. a role glued to a person's name is dropped when the article also names the person alone
   (``NATO-Generalsekretär Jens Stoltenberg`` -> ``Jens Stoltenberg``); a short name takes the
   full name the article introduced (``Stoltenberg`` -> ``Jens Stoltenberg``) when exactly one
   full name ends with it (two Schmidts stay ``Schmidt``);
4. case variants of one name (``Yoon Suk-Yeol``/``Yoon Suk-yeol``, ``REIL``/``Reil``) take the
   article's most frequent spelling, preferring the one that is not all capitals on ties;
5. English: dotted initialisms lose their dots (``U.S.`` -> ``US``, so ``U.S.`` and ``US`` group
   together); a leading ``the`` goes before an initialism or a name the article also uses bare
   (``the BBC`` -> ``BBC``; ``The Hague`` stays); a title before a person's name goes when a full
   name remains or the article uses the name alone (``Prime Minister Tony Blair`` -> ``Tony
   Blair``, ``Mr Blair`` -> ``Blair``, then ``Tony Blair`` by rule 3).

The same mentions always give the same norms (the result depends only on the article's own
mentions and the model), so enrichment stays reproducible.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence

_SPACE = re.compile(r"\s+")
_STRIP = "\"'„“”‚‘’«»‹›()[]{}.,;:!?*–—-/ "
_POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")


def clean(text: str) -> str:
    """Whitespace collapsed; quotes and punctuation around the name removed."""
    return _SPACE.sub(" ", text).strip(_STRIP)


_INITIALISM = re.compile(r"^(?:[A-Z]\.){1,5}[A-Z]?\.?$")
_THE = re.compile(r"^(?:the|The|THE)\s+")
_TITLE = re.compile(
    r"^(?:(?:Prime|Foreign|Home|Deputy|Vice|Former|former|Acting|acting)\s+)*"
    r"(?:Minister|President|Chancellor|Secretary|Senator|Sen\.|Governor|Gov\.|Mayor|Mr|Mrs|Ms|"
    r"Miss|Dr|Sir|Dame|Lord|Lady|King|Queen|Prince|Princess|Pope|General|Gen\.|Judge|Chairman|"
    r"Chairwoman|Professor|Prof\.|Rev\.|Reverend|Coach|Captain|Capt\.)\.?\s+")


def _initialism(name: str) -> str:
    """``U.S.`` / ``U.S`` -> ``US`` (the trailing dot is often cut by ``clean``)."""
    return name.replace(".", "") if _INITIALISM.match(name + ("" if name.endswith(".") else "."))\
        else name


def _bare(name: str, label: str, known: Collection[str], same_label: Collection[str]) -> str:
    english = clean(_POSSESSIVE.sub("", name))
    if english != name and english:
        return english
    for suffix in ("s", "es"):
        if len(name) > len(suffix) + 2 and name.endswith(suffix):
            stem = name[: -len(suffix)]
            if stem in same_label or stem in known:
                return stem
    return name


def _english_forms(norms: list[str], labels: Sequence[str], known: Collection[str]) -> None:
    """Rule 5, in place: ``the`` before an initialism or a name used bare, titles before a
    person's full name or a name the article also uses alone."""
    names: dict[str, set[str]] = {}
    for name, label in zip(norms, labels, strict=True):
        names.setdefault(label, set()).add(name)
    for i, (name, label) in enumerate(zip(norms, labels, strict=True)):
        rest = _initialism(_THE.sub("", name))
        if rest != name and (rest.isupper() or rest in names[label] or rest in known):
            norms[i] = rest
        bare = _TITLE.sub("", norms[i]) if label == "PER" else norms[i]
        if bare != norms[i] and bare and (" " in bare or bare in names[label] or any(
                n.endswith(" " + bare) and n != norms[i] for n in names[label])):
            norms[i] = bare


def normalise_mentions(mentions: Sequence[tuple[str, str]],
                       known: Collection[str] = ()) -> list[str]:
    """``norm`` for each ``(text, label)`` mention of one article, in order."""
    cleaned = [_initialism(clean(text) or text.strip()) for text, _ in mentions]
    by_label: dict[str, set[str]] = {}
    for name, (_, label) in zip(cleaned, mentions, strict=True):
        by_label.setdefault(label, set()).add(name)
    norms = [_bare(name, label, known, by_label[label])
             for name, (_, label) in zip(cleaned, mentions, strict=True)]
    _english_forms(norms, [label for _, label in mentions], known)

    # A role glued before a name the article also uses alone: `NATO-Generalsekretär Jens
    # Stoltenberg` -> `Jens Stoltenberg` (the role is one hyphenated or lower-case token).
    people = {n for n, (_, label) in zip(norms, mentions, strict=True) if label == "PER"}
    for i, (_, label) in enumerate(mentions):
        role, _, rest = norms[i].partition(" ")
        if label == "PER" and " " in rest and rest in people and \
                ("-" in role or role[:1].islower()):
            norms[i] = rest
    # Full names for short person mentions, when only one full name ends with it.
    people = {n for n, (_, label) in zip(norms, mentions, strict=True) if label == "PER"}
    for i, (_, label) in enumerate(mentions):
        if label != "PER" or " " in norms[i]:
            continue
        longer = {p for p in people if p.endswith(" " + norms[i])}
        if len(longer) == 1:
            norms[i] = longer.pop()

    # One spelling per case variant.
    counts = Counter(zip(norms, (label for _, label in mentions), strict=True))
    preferred: dict[tuple[str, str], str] = {}
    for (name, label), n in counts.items():
        key = (name.casefold(), label)
        best = preferred.get(key)
        if best is None or (n, not name.isupper(), name) > \
                (counts[(best, label)], not best.isupper(), best):
            preferred[key] = name
    return [preferred[(name.casefold(), label)]
            for name, (_, label) in zip(norms, mentions, strict=True)]
