"""`TinyCalendar`: agents keep track of meetings and appointments (upstream's API).

The agent's ``CREATE_EVENT`` action carries a JSON object: ``title`` (mandatory),
``description``, ``mandatory_attendees``, ``optional_attendees``, ``start_time``,
``end_time`` (upstream's fields) and, here also, ``date`` (``YYYY-MM-DD``; if omitted,
the date of an ISO ``start_time``, else ``"undated"``). The event is stored in
`calendar` (date -> list of events, each ``{"title", "description", "owner",
"mandatory_attendees", "optional_attendees", "start_time", "end_time"}``, the acting
agent as owner). `add_event(...)` does the same from code, `find_events(year, month,
day, hour=None, minute=None)` lists a day's events (those starting at that hour and
minute, if given) and `all_events()` every event.

Upstream ships this tool unfinished (its `find_events` returns nothing and its action
handler fails); this one works as upstream's documentation describes. Invitations are
not sent to attendees. The events are saved with the agent; one calendar may serve
several agents' threads (a lock guards it).
"""

from __future__ import annotations

import copy
import logging
from datetime import date as Date
from datetime import datetime, time
from typing import Any, ClassVar

from tinytroupe import sanitize
from tinytroupe.tools.tiny_tool import TinyTool, owner_from_state
from tinytroupe.utils import dedent, extract_json

__all__ = ["TinyCalendar"]

logger = logging.getLogger("tinytroupe")

_FIELDS = ("title", "description", "date", "mandatory_attendees", "optional_attendees",
           "start_time", "end_time")
#: Where events without a known date are kept.
UNDATED = "undated"


class TinyCalendar(TinyTool):
    """A calendar: the CREATE_EVENT action stores an event (module doc)."""

    action_namespace = "TINYCALENDAR"
    serializable_attributes: ClassVar[list[str]] = ["calendar"]

    def __init__(self, owner: Any = None) -> None:
        super().__init__("calendar",
                         "A calendar with which agents keep track of meetings and "
                         "appointments.", owner=owner, real_world_side_effects=False)
        #: date (``YYYY-MM-DD``, or as given when not a date) -> that day's events
        self.calendar: dict[str, list[dict[str, Any]]] = {}

    def add_event(self, date: Any, title: str, description: str | None = None,
                  owner: str | None = None, mandatory_attendees: list[str] | None = None,
                  optional_attendees: list[str] | None = None, start_time: Any = None,
                  end_time: Any = None) -> dict[str, Any]:
        """Store an event on `date` (a date, datetime or text); returns a copy of it."""
        event = {"title": _text(title), "description": _text(description),
                 "owner": _text(owner),
                 "mandatory_attendees": _names(mandatory_attendees),
                 "optional_attendees": _names(optional_attendees),
                 "start_time": _text(start_time), "end_time": _text(end_time)}
        with self._lock:
            self.calendar.setdefault(_date_key(date), []).append(event)
            return copy.deepcopy(event)

    def find_events(self, year: int, month: int, day: int, hour: int | None = None,
                    minute: int | None = None) -> list[dict[str, Any]]:
        """Copies of the events of that day (starting at `hour`:`minute`, if given)."""
        key = Date(int(year), int(month), int(day)).isoformat()
        with self._lock:
            events = copy.deepcopy(self.calendar.get(key, []))
        if hour is None and minute is None:
            return events
        found = []
        for event in events:
            start = _clock(event.get("start_time"))
            if start is None:
                continue
            if (hour is None or start.hour == int(hour)) and (
                    minute is None or start.minute == int(minute)):
                found.append(event)
        return found

    def all_events(self) -> list[dict[str, Any]]:
        """Copies of all events, each with its ``date``, by date (undated last)."""
        with self._lock:
            days = sorted(self.calendar.items(), key=lambda item: (item[0] == UNDATED, item[0]))
            return [{"date": day, **copy.deepcopy(event)} for day, events in days
                    for event in events]

    def _process_action(self, agent: Any, action: dict[str, Any]) -> bool:
        if self._action_verb(action) != "CREATE_EVENT" or action.get("content") is None:
            return False
        who = getattr(agent, "name", agent)
        spec = extract_json(action["content"])
        if not isinstance(spec, dict) or not spec.get("title"):
            logger.error("%s: CREATE_EVENT needs a JSON object with a title; got %.200r", who,
                         action["content"])
            return False
        unknown = [key for key in spec if key not in _FIELDS]
        if unknown:
            logger.warning("%s: CREATE_EVENT fields %s ignored (valid: %s).", who, unknown,
                           list(_FIELDS))
        when = spec.get("date") or _date_of(spec.get("start_time")) or UNDATED
        self.add_event(when, spec["title"], description=spec.get("description"), owner=who,
                       mandatory_attendees=spec.get("mandatory_attendees"),
                       optional_attendees=spec.get("optional_attendees"),
                       start_time=spec.get("start_time"), end_time=spec.get("end_time"))
        return True

    def actions_definitions_prompt(self) -> str:
        """The CREATE_EVENT action and its JSON fields."""
        return dedent("""
            - CREATE_EVENT: put a new event in your calendar. Its "content" is a JSON object
              with these fields:
                * title: what the event is. Mandatory.
                * description: a few words about it. Optional.
                * date: the day, as YYYY-MM-DD. Optional if start_time has the date.
                * mandatory_attendees: a list of the names of people who must attend.
                  Optional.
                * optional_attendees: a list of the names of people invited who need not
                  attend. Optional.
                * start_time: when it starts (e.g. 2025-03-14T10:00). Optional.
                * end_time: when it ends. Optional.
            """)

    def actions_constraints_prompt(self) -> str:
        """Rules for CREATE_EVENT."""
        return dedent("""
            - The content of CREATE_EVENT is always a valid JSON object.
            - Times are the simulation's date and time, not the real world's.
            """)

    def to_state(self) -> dict[str, Any]:
        """Settings and owner (as `TinyTool.to_state`) plus the events."""
        with self._lock:
            return {**super().to_state(), "calendar": copy.deepcopy(self.calendar)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TinyCalendar:
        """The calendar `to_state` described, its events restored (ValueError if malformed)."""
        calendar = cls(owner=owner_from_state(state.get("owner")))
        saved = state.get("calendar") or {}
        if not isinstance(saved, dict) or not all(
                isinstance(events, list) and all(isinstance(e, dict) for e in events)
                for events in saved.values()):
            raise ValueError("a saved calendar must map dates to lists of events")
        calendar.calendar = {str(day): [dict(e) for e in events]
                             for day, events in sanitize.clean_data(saved).items()}
        return calendar


def _text(value: Any) -> str | None:
    """`value` as clean text (None stays None; dates become ISO text)."""
    if value is None:
        return None
    if isinstance(value, (datetime, Date, time)):
        return value.isoformat()
    return sanitize.clean_text(str(value))


def _names(value: Any) -> list[str]:
    """Attendees as a list of names (one name, a list, or nothing)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return [n for n in (_text(v) for v in value) if n]
    name = _text(value)
    return [name] if name else []


def _date_key(value: Any) -> str:
    """`value` as ``YYYY-MM-DD`` when it is (or starts with) a date, else as given."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, Date):
        return value.isoformat()
    text = str(value).strip() if value is not None else ""
    return _date_of(text) or text or UNDATED


def _date_of(value: Any) -> str | None:
    """The ISO date in `value` (a date or ISO date-time text), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for candidate in (text, text[:10]):
        try:
            return datetime.fromisoformat(candidate).date().isoformat()
        except ValueError:
            continue
    return None


def _clock(value: Any) -> time | None:
    """The time of day in `value` (ISO date-time or ``HH:MM`` text), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text).time()
    except ValueError:
        pass
    try:
        return time.fromisoformat(text)
    except ValueError:
        return None
