"""Write a visitor's scheduled visits as an iCalendar file (RFC 5545) with ``icalendar``.

One all-day VEVENT per planned visit: a day is a one-day event, a week or a month one event
spanning its days (DTEND is the day after the last, as RFC 5545 §3.6.1 has it for dates).
The file is ``METHOD:PUBLISH`` (RFC 5546): calendars import it as published events, not as a
meeting to answer. Each event's UID stays the same in every version of the plan and its
SEQUENCE rises with the version, so Outlook, Apple Calendar and Google Calendar update the
events they already hold instead of adding copies. Events are marked free (TRANSP,
Outlook's BUSYSTATUS): a planned visit is a reminder, not an appointment that blocks a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = ["CalendarEvent", "calendar_bytes"]

PRODID = "-//visitflow//visit plans//ZH"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    start: date
    end: date  # the last day, included
    summary: str
    description: str = ""


def calendar_bytes(events: Sequence[CalendarEvent], *, name: str, sequence: int, stamp: datetime) -> bytes:
    """Return the .ics bytes of ``events`` (all-day, free), each with ``sequence`` and DTSTAMP ``stamp`` (UTC)."""
    import icalendar  # loaded when a plan is accepted, not with the daemon

    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start)
        event.add("dtend", item.end + timedelta(days=1))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        event.add("sequence", sequence)
        event.add("transp", "TRANSPARENT")
        event.add("x-microsoft-cdo-busystatus", "FREE")
        event.add("x-microsoft-cdo-alldayevent", "TRUE")
        cal.add_component(event)
    return cal.to_ical()
