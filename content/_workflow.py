"""The editorial workflow: every allowed state change, in one place."""

from typing import Final

from content._enums import ContentState
from content._errors import ContentStateError

# A rejected item is final: the editor writes a new one, so the audit trail of the old one
# stays readable. An approved item can still be rejected (withdrawn) when an error is found
# after approval; publishing checks the state, so a withdrawn item is never published again.
TRANSITIONS: Final[dict[ContentState, frozenset[ContentState]]] = {
    ContentState.DRAFT: frozenset({ContentState.APPROVED, ContentState.REJECTED}),
    ContentState.APPROVED: frozenset({ContentState.REJECTED}),
    ContentState.REJECTED: frozenset(),
}

# Approval covers the texts and recordings that existed when it was given, so language
# variants can be added only while the item is a draft.
EDITABLE: Final = frozenset({ContentState.DRAFT})

PUBLISHABLE: Final = frozenset({ContentState.APPROVED})

# Booking is a promise to publish in a slot, so it asks for what publishing asks for.
BOOKABLE: Final = PUBLISHABLE


def check_transition(item_id: int, current: ContentState, target: ContentState) -> None:
    if target not in TRANSITIONS[current]:
        raise ContentStateError(
            f"content item {item_id} is '{current}': it cannot become '{target}' "
            f"(from '{current}' it can become: {_names(TRANSITIONS[current])})"
        )


def check_editable(item_id: int, current: ContentState) -> None:
    if current not in EDITABLE:
        raise ContentStateError(
            f"content item {item_id} is '{current}': language variants can be added "
            f"only to a draft (add a new item instead)"
        )


def check_publishable(item_id: int, current: ContentState) -> None:
    if current not in PUBLISHABLE:
        raise ContentStateError(
            f"content item {item_id} is '{current}', not approved: "
            f"only approved content is published"
        )


def check_bookable(item_id: int, current: ContentState) -> None:
    if current not in BOOKABLE:
        raise ContentStateError(
            f"content item {item_id} is '{current}', not approved: "
            f"only approved content is booked into slots"
        )


def _names(states: frozenset[ContentState]) -> str:
    return ", ".join(f"'{state}'" for state in sorted(states)) or "nothing (final)"
