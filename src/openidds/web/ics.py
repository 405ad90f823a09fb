"""iCalendar (RFC 5545) text of refill appointments, written by hand: a feed is a dozen property lines per
event, so no library is needed.

What RFC 5545 asks of these lines and how they are met: every line ends with CRLF (section 3.1); a line longer
than 75 octets is folded, the rest continuing on lines that start with one space, never splitting a UTF-8
character (3.1); TEXT values escape backslash, semicolon, comma and newline (3.3.11); each VEVENT has a UID,
globally unique and kept when the event changes, and a DTSTAMP (3.6.1); times are UTC, written with a ``Z``
(3.3.5), whatever the clinic's time zone: they name absolute moments, which every calendar app shows in its
user's own zone, so the feed needs no VTIMEZONE (whose rules would have to follow the tz database). A moved
appointment raises its SEQUENCE, a cancelled one stays with STATUS:CANCELLED, so a calendar app that subscribed
updates or removes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from openidds.clinic.appointments import Appointment, VisitPlace

MAX_LINE_OCTETS = 75
PRODUCT = "-//OpenIDDS//Refill calendar//EN"
_PLACES = {VisitPlace.CLINIC: "Clinic", VisitPlace.HOME: "Home visit"}


def utc_stamp(at: dt.datetime) -> str:
    """A naive-UTC time as an RFC 5545 UTC DATE-TIME (``20230710T090000Z``)."""
    return at.strftime("%Y%m%dT%H%M%SZ")


def escape_text(text: str) -> str:
    """A TEXT value with backslash, semicolon, comma and line breaks escaped."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n")
            .replace("\n", "\\n"))


def fold(line: str) -> str:
    """A content line folded at 75 octets (the continuation lines start with a space, which counts), each
    piece ending with CRLF; a UTF-8 character is never split."""
    pieces: list[str] = []
    current, size, limit = "", 0, MAX_LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            pieces.append(current)
            current, size, limit = " ", 1, MAX_LINE_OCTETS
        current += char
        size += octets
    pieces.append(current)
    return "".join(piece + "\r\n" for piece in pieces)


def _event(appointment: Appointment, stamp: dt.datetime, host: str) -> list[str]:
    place = _PLACES[appointment.place]
    return [
        "BEGIN:VEVENT",
        f"UID:refill-appointment-{appointment.id}@{host}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        f"DTSTART:{utc_stamp(appointment.starts_at)}",
        f"DTEND:{utc_stamp(appointment.ends_at)}",
        f"SEQUENCE:{appointment.version - 1}",
        f"SUMMARY:{escape_text(f'Pump refill {appointment.site}/{appointment.patient_id} ({place.lower()})')}",
        f"LOCATION:{escape_text(place)}",
        f"STATUS:{'CANCELLED' if appointment.cancelled_at else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
        "END:VEVENT",
    ]


def calendar_text(name: str, appointments: Iterable[Appointment], stamp: dt.datetime, host: str) -> str:
    """The VCALENDAR of ``appointments`` (site/patient code and place only: no patient name), stamped ``stamp``
    (naive UTC); ``host`` makes the events' UIDs globally unique."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
             f"X-WR-CALNAME:{escape_text(name)}"]
    for appointment in appointments:
        lines += _event(appointment, stamp, host)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) for line in lines)
