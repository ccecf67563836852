"""Who a notification is for. No model imports here: `from notify import Recipient` works anywhere, even before the
app registry is ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The kinds of recipient a notification endpoint can belong to (notify.models.RecipientKind mirrors these).
RECIPIENT_KINDS = ("squad", "person", "street_office", "district", "community")


@dataclass(frozen=True)
class Recipient:
    """A squad, person, street office, district or community, by id. `name` is only for display and logs:
    identity is (kind, id), so two Recipients with the same kind and id but different names are one recipient."""

    kind: str
    id: int
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in RECIPIENT_KINDS:
            raise ValueError(f"unknown recipient kind {self.kind!r}; expected one of {', '.join(RECIPIENT_KINDS)}")
        if isinstance(self.id, bool) or not isinstance(self.id, int) or self.id <= 0:
            raise ValueError(f"recipient id must be a positive integer, not {self.id!r}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @property
    def key(self) -> tuple[str, int]:
        return (self.kind, self.id)

    @classmethod
    def for_squad(cls, squad: Any) -> Recipient:
        """A people.Squad (anything with pk and name)."""
        return cls(kind="squad", id=squad.pk, name=squad.name)

    @classmethod
    def for_person(cls, person: Any) -> Recipient:
        """A people.Person."""
        return cls(kind="person", id=person.pk, name=person.name)

    @classmethod
    def for_area(cls, area: Any) -> Recipient:
        """A grid.Area of level district, street_office or community (grid cells have no endpoints)."""
        if area.level not in ("district", "street_office", "community"):
            raise ValueError(f"areas of level {area.level!r} cannot receive notifications")
        return cls(kind=area.level, id=area.pk, name=area.name)
