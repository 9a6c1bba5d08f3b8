"""Per (rule, run) alert cooldown: a pure decision over the last admitted alert and the clock.

One condition must not page twice: once an alert of a rule was admitted for a run, later alerts
of the same rule and run are suppressed for `period` seconds. The mark remembers which alert
holds the cooldown, so the same alert read again after a restart (at-least-once delivery) is
admitted again instead of being suppressed by its own mark.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.records import Alert


@dataclass(frozen=True)
class Mark:
    """The alert that opened the current cooldown and when it was admitted."""

    alert_id: str
    at: float

    def encode(self) -> bytes:
        """The stored form: `<at> <alert id>`."""
        return f"{self.at!r} {self.alert_id}".encode()

    @classmethod
    def decode(cls, raw: bytes | None) -> Mark | None:
        """A stored mark, or None for a missing or unreadable one."""
        if not raw:
            return None
        at, _, alert_id = raw.decode(errors="replace").partition(" ")
        try:
            return cls(alert_id, float(at))
        except ValueError:
            return None


def rule_of(alert: Alert) -> str:
    """The rule an alert reports: the detector that fired when named, else its type."""
    return alert.detector or alert.type


def admit(mark: Mark | None, alert_id: str, now: float, period: float) -> bool:
    """Whether an alert goes out, given the mark of its (rule, run)."""
    if mark is None or period <= 0 or mark.alert_id == alert_id:
        return True
    return now - mark.at >= period
