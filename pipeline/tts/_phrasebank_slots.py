"""What a phrase bank says, as phrase ids: a template with its slots filled, or free text.

A template lists phrase ids and slots; each slot value (a hazard, a risk level, a commune,
a number, a date, a time) becomes the ids of the phrases that say it, a date or a time
through the language's format. Free text is said by the phrases whose transcripts cover it.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pipeline._errors import TTSInputError
from pipeline.tts._base import EngineUnavailable, Utterance

FORMAT_FIELDS: Mapping[str, tuple[str, ...]] = {
    "date": ("day", "month", "year"),
    "time": ("hour", "minute"),
}
MIN_LEVEL = 1
MAX_LEVEL = 5

_SLOT_NAME_VALUE = re.compile(r"[a-z0-9][a-z0-9-]*")  # a hazard name, a commune id
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; the rest is punctuation

Formats = Mapping[str, tuple[str, ...]]  # "date" and "time": the parts that say one


@dataclass(frozen=True)
class SlotRef:
    """A template part filled from the utterance: ``{time.until}`` is slot ``time.until``
    of kind ``time``."""

    name: str

    @property
    def kind(self) -> str:
        return self.name.partition(".")[0]


TemplatePart = str | SlotRef  # a literal phrase id, or a slot
Templates = Mapping[str, tuple[TemplatePart, ...]]


def format_fields(part: str) -> set[str]:
    """The fields a format part uses: ``{hour}`` of ``hour.{hour}``."""
    return {field for _, field, _, _ in string.Formatter().parse(part) if field is not None}


# --- Templates ------------------------------------------------------------------------


def expand(
    language: str, templates: Templates, formats: Formats, utterance: Utterance
) -> list[str]:
    """The phrase ids that say ``utterance``; ``TTSInputError`` for an unknown template,
    missing slots or slot values that do not parse (all named at once)."""
    template = _template(language, templates, utterance.template)
    slots = {name: str(value) for name, value in utterance.slots.items()}
    _require_slots(language, utterance.template, template, slots)
    phrase_ids: list[str] = []
    problems: list[str] = []
    for part in template:
        try:
            phrase_ids += _part_phrase_ids(part, slots, formats)
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise TTSInputError(f"phrase bank {language!r}: " + "; ".join(problems))
    return phrase_ids


def _template(language: str, templates: Templates, name: str) -> tuple[TemplatePart, ...]:
    template = templates.get(name)
    if template is None:
        known = ", ".join(sorted(templates)) or "none"
        raise TTSInputError(
            f"phrase bank {language!r} has no template {name!r} (its templates: {known})"
        )
    return template


def _require_slots(
    language: str, name: str, template: Sequence[TemplatePart], slots: Mapping[str, str]
) -> None:
    needed = sorted({part.name for part in template if isinstance(part, SlotRef)})
    missing = [slot for slot in needed if slot not in slots]
    if missing:
        given = ", ".join(sorted(slots)) or "none"
        raise TTSInputError(
            f"phrase bank {language!r}: template {name!r} needs slot(s) {', '.join(missing)} "
            f"(given: {given})"
        )


def _part_phrase_ids(part: TemplatePart, slots: Mapping[str, str], formats: Formats) -> list[str]:
    """The phrase ids that say one part; ``ValueError`` naming a slot value that does not
    parse and why."""
    if isinstance(part, str):
        return [part]
    value = slots[part.name]
    try:
        return _SLOT_READERS[part.kind](part.kind, value.strip(), formats)
    except ValueError as exc:
        raise ValueError(f"slot {part.name!r} = {value!r}: {exc}") from None


# --- Slot values ------------------------------------------------------------------------


def _named_value(kind: str, value: str, _: Formats) -> list[str]:
    if not _SLOT_NAME_VALUE.fullmatch(value):
        raise ValueError(f"a {kind} is an id of lower-case letters, digits and '-'")
    return [f"{kind}.{value}"]


def _level(kind: str, value: str, _: Formats) -> list[str]:
    if not _DIGITS.fullmatch(value) or not MIN_LEVEL <= int(value) <= MAX_LEVEL:
        raise ValueError(f"a risk level is a whole number from {MIN_LEVEL} to {MAX_LEVEL}")
    return [f"{kind}.{int(value)}"]


def _number(kind: str, value: str, _: Formats) -> list[str]:
    if not _DIGITS.fullmatch(value):
        raise ValueError("a number is a whole number from 0 up")
    return [f"{kind}.{int(value)}"]


def _date(kind: str, value: str, formats: Formats) -> list[str]:
    parsed = _ISO_DATE.fullmatch(value)
    try:
        if parsed is None:
            raise ValueError
        day = date(*(int(group) for group in parsed.groups()))
    except ValueError:
        raise ValueError("a date is written YYYY-MM-DD, e.g. 2026-11-23") from None
    fields = {"day": day.day, "month": day.month, "year": day.year}
    return _formatted(formats[kind], fields, dropped=set())


def _time(kind: str, value: str, formats: Formats) -> list[str]:
    parsed = _CLOCK_TIME.fullmatch(value)
    hour, minute = (int(group) for group in parsed.groups()) if parsed else (-1, -1)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError("a time is written HH:MM, from 00:00 to 23:59")
    # "17 giờ", not "17 giờ 0 phút": a whole hour is said without its minutes.
    dropped = {"minute"} if minute == 0 else set()
    return _formatted(formats[kind], {"hour": hour, "minute": minute}, dropped=dropped)


def _formatted(parts: Sequence[str], fields: Mapping[str, int], *, dropped: set[str]) -> list[str]:
    return [part.format(**fields) for part in parts if not format_fields(part) & dropped]


_SlotReader = Callable[[str, str, Formats], list[str]]
_SLOT_READERS: Mapping[str, _SlotReader] = {
    "hazard": _named_value,
    "level": _level,
    "place": _named_value,
    "date": _date,
    "time": _time,
    "number": _number,
}
SLOT_KINDS = tuple(_SLOT_READERS)


# --- Covering text with transcripts -------------------------------------------------------


def phrases_by_words(transcripts: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The phrase id that says each transcript's words (folded), from phrase id →
    transcript; a transcript two phrases share speaks the first of them."""
    by_words: dict[tuple[str, ...], str] = {}
    for phrase_id, transcript in transcripts.items():
        words = tuple(_fold(word) for word in _WORD.findall(_composed(transcript)))
        if words:
            by_words.setdefault(words, phrase_id)
    return by_words


def cover(language: str, text: str, by_words: Mapping[tuple[str, ...], str]) -> list[str]:
    """The phrase ids whose transcripts say ``text`` (case, Unicode form, punctuation
    and spacing ignored); ``EngineUnavailable`` naming every stretch no phrase says."""
    text = _composed(text)
    words = list(_WORD.finditer(text))
    steps = _cheapest_cover([_fold(word.group()) for word in words], by_words)
    uncovered = _uncovered_runs(steps)
    if uncovered:
        stretches = [text[words[first].start() : words[last].end()] for first, last in uncovered]
        raise EngineUnavailable(
            f"phrase bank {language!r} has no phrase for: "
            + ", ".join(repr(stretch) for stretch in stretches)
        )
    return [step.phrase_id for step in steps if step.phrase_id is not None]


def _composed(text: str) -> str:
    # Composed first: a decomposed letter's accents are not word characters.
    return unicodedata.normalize("NFC", text)


def _fold(word: str) -> str:
    return unicodedata.normalize("NFC", word.casefold())


@dataclass(frozen=True)
class _Step:
    """Words ``start`` to ``end`` (exclusive) of a text, said by a phrase or by none."""

    start: int
    end: int
    phrase_id: str | None


def _cheapest_cover(words: Sequence[str], by_words: Mapping[tuple[str, ...], str]) -> list[_Step]:
    """The steps that say ``words``, leaving the fewest words to no phrase, then using
    the fewest (longest) phrases.

    The whole text at once rather than sentence by sentence: a transcript may itself
    hold several sentences ("Chú ý! Chú ý!").
    """
    longest = max((len(key) for key in by_words), default=0)
    # cost[i]: (words left uncovered, phrases used) to say words[:i]; last[i - 1]: its last step
    cost: list[tuple[int, int]] = [(0, 0)]
    last: list[_Step] = []
    for end in range(1, len(words) + 1):
        steps = _steps_ending_at(end, words, by_words, longest)
        last.append(min(steps, key=lambda step: _cost_with(cost, step)))  # the first, on a tie
        cost.append(_cost_with(cost, last[-1]))
    return _backtrack(last)


def _steps_ending_at(
    end: int, words: Sequence[str], by_words: Mapping[tuple[str, ...], str], longest: int
) -> Iterator[_Step]:
    """Leaving word ``end - 1`` unsaid, then each phrase that says the words up to ``end``,
    shortest first."""
    yield _Step(end - 1, end, None)
    for length in range(1, min(longest, end) + 1):
        phrase_id = by_words.get(tuple(words[end - length : end]))
        if phrase_id is not None:
            yield _Step(end - length, end, phrase_id)


def _cost_with(cost: Sequence[tuple[int, int]], step: _Step) -> tuple[int, int]:
    uncovered, used = cost[step.start]
    return (uncovered + 1, used) if step.phrase_id is None else (uncovered, used + 1)


def _backtrack(last: Sequence[_Step]) -> list[_Step]:
    steps: list[_Step] = []
    end = len(last)
    while end > 0:
        steps.append(last[end - 1])
        end = last[end - 1].start
    return steps[::-1]


def _uncovered_runs(steps: Sequence[_Step]) -> list[tuple[int, int]]:
    """(first, last) word of each run of words no phrase says."""
    runs: list[tuple[int, int]] = []
    for step in steps:
        if step.phrase_id is not None:
            continue
        if runs and runs[-1][1] == step.start - 1:
            runs[-1] = (runs[-1][0], step.start)
        else:
            runs.append((step.start, step.start))
    return runs
