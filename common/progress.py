"""Progress reporting of long commands (imports, grid generation, the demo): an optional callable taking a line."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None] | None


def say(progress: Progress, message: str) -> None:
    if progress:
        progress(message)


def human_size(n: int) -> str:
    """A byte count for people: 1.5 MB, 12.0 KB, 800 B."""
    if n >= 1024 * 1024:
        return f"{n / 1024 / 1024:.1f} MB"
    if n >= 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n} B"
