"""Value parsers for Synthea fields; each raises ValueError on bad input (the caller quarantines the row)."""

from __future__ import annotations

from datetime import UTC, date, datetime

MIN_DATE = date(1850, 1, 1)


def parse_date(value: str) -> date:
    """``YYYY-MM-DD`` or an ISO timestamp's date part."""
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        raise ValueError("not a date")
    return date(int(value[0:4]), int(value[5:7]), int(value[8:10]))


def parse_datetime(value: str) -> datetime:
    """``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM:SS[Z]`` (UTC), as a naive UTC datetime."""
    if len(value) < 10 or value[4] != "-" or value[7] != "-":
        raise ValueError("not a date")
    if value[-1] == "Z":  # Synthea's UTC timestamps: parse the naive part directly
        return datetime.fromisoformat(value[:-1])
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_float(value: str) -> float:
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not a finite number")
    return number


US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX",
    "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Puerto Rico": "PR",
}  # fmt: skip


def state_code(value: str) -> str | None:
    """A two-letter state code (``location.state`` is varchar(2)); None when the name is unknown."""
    value = value.strip()
    if len(value) <= 2:
        return value or None
    return US_STATES.get(value)


def zip_code(value: str) -> str | None:
    """``location.zip`` is varchar(9): a US ZIP+4 ``12345-6789`` is stored without its hyphen."""
    value = value.strip()
    if len(value) == 10 and value[5] == "-":
        return value[:5] + value[6:]
    return value or None
