"""What Cove's account statistics mean for Backupchecks: pure functions, no database, no Flask.

Everything here works on one account's flattened settings (``{column code: string value}``, as
:class:`backend.app.clients.cove.CoveAccountStats` carries them). The column codes, status codes
and their provenance are described in shared/protocols/cove-jsonrpc.md; the status mapping and the
deduplication key are the seeds' rules (technical notes, "Cove Data Protection Integration").

Column spelling: Cove answers with the spelling a column was requested in, so the request and the
reading must agree. :data:`DEFAULT_COLUMNS` uses the seeds' spelling (``D09F00`` for the total,
``D1F00``/``D10F00`` for data sources); the readers below also accept the zero-padded and unpadded
variants, so a differently spelled request still reads back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal

BackupStatus = Literal["success", "warning", "failed"]

BACKUP_SOFTWARE = "Cove Data Protection"
TYPE_SERVER = "Server"
TYPE_WORKSTATION = "Workstation"
TYPE_M365 = "Microsoft 365"

# ---- column codes -------------------------------------------------------------------------------

COL_ACCOUNT_NAME = "I1"
COL_CREATED = "I4"
COL_LAST_CONTACT = "I6"
COL_CUSTOMER_NAME = "I8"
COL_USED_STORAGE = "I14"
COL_OS_VERSION = "I16"
COL_CLIENT_VERSION = "I17"
COL_COMPUTER_NAME = "I18"
COL_OS_TYPE = "I32"
COL_DATASOURCES = "I78"

TOTAL_DATASOURCE = 9  # "D09": every data source aggregated

# Device-level columns the protocol notes name, code -> meaning.
DEVICE_COLUMNS: dict[str, str] = {
    "I1": "Device name",
    "I2": "Device alias",
    "I4": "Creation date (Unix seconds)",
    "I6": "Last contact (Unix seconds)",
    "I8": "Customer (partner) name",
    "I9": "Product (retention policy) id",
    "I10": "Product (retention policy) name",
    "I11": "Storage location",
    "I14": "Used storage (bytes)",
    "I16": "OS version",
    "I17": "Client version",
    "I18": "Computer name",
    "I19": "Internal IP",
    "I20": "External IP",
    "I32": "OS type (1 workstation, 2 server, 0 undefined)",
    "I44": "Manufacturer",
    "I45": "Model",
    "I54": "Profile id",
    "I56": "Profile name",
    "I78": "Active data sources",
    "I81": "Physicality",
    "I84": "CPU cores",
    "I85": "RAM (bytes)",
}

# Per-data-source statistic fields (the xx of DnnFxx), field number -> meaning.
F_LAST_STATUS = 0
F_SELECTED_SIZE = 3
F_PROCESSED_SIZE = 4
F_SENT_SIZE = 5
F_ERRORS = 6
F_SIZE = 7
F_COLOUR_BAR = 8
F_LAST_SUCCESS_AT = 9
F_DURATION = 12
F_LAST_SESSION_AT = 15
F_LAST_SUCCESS_STATUS = 16
F_LAST_COMPLETED_STATUS = 17
F_LAST_COMPLETED_AT = 18

STATISTIC_FIELDS: dict[int, str] = {
    F_LAST_STATUS: "Last session status",
    F_SELECTED_SIZE: "Selected size (bytes)",
    F_PROCESSED_SIZE: "Processed size (bytes)",
    F_SENT_SIZE: "Sent size (bytes)",
    F_ERRORS: "Errors in the last session",
    F_SIZE: "Size (bytes; meaning not documented)",
    F_COLOUR_BAR: "28-day colour bar",
    F_LAST_SUCCESS_AT: "Last successful session (Unix seconds)",
    F_DURATION: "Last session duration (seconds)",
    F_LAST_SESSION_AT: "Last session (Unix seconds)",
    F_LAST_SUCCESS_STATUS: "Status of the last successful session",
    F_LAST_COMPLETED_STATUS: "Last completed session status",
    F_LAST_COMPLETED_AT: "Last completed session (Unix seconds)",
}


def datasource_column(number: int, field: int) -> str:
    """The column code of a statistic, in the seeds' spelling: ``D09F00`` for the total, ``D10F15`` otherwise."""
    prefix = f"D{number:02d}" if number == TOTAL_DATASOURCE else f"D{number}"
    return f"{prefix}F{field:02d}"


COL_LAST_STATUS = datasource_column(TOTAL_DATASOURCE, F_LAST_STATUS)  # D09F00
COL_ERRORS = datasource_column(TOTAL_DATASOURCE, F_ERRORS)  # D09F06
COL_COLOUR_BAR = datasource_column(TOTAL_DATASOURCE, F_COLOUR_BAR)  # D09F08
COL_LAST_SUCCESS_AT = datasource_column(TOTAL_DATASOURCE, F_LAST_SUCCESS_AT)  # D09F09
COL_LAST_SESSION_AT = datasource_column(TOTAL_DATASOURCE, F_LAST_SESSION_AT)  # D09F15


# ---- data sources -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Datasource:
    number: int
    label: str
    m365: bool = False
    # False where asking for the statistic columns is known to fail: N-able support called the
    # D02/D03 statistics legacy, and requesting them produced error 13501 for an API user.
    statistics: bool = True

    @property
    def code(self) -> str:
        return f"D{self.number:02d}"


DATASOURCES: dict[int, Datasource] = {
    source.number: source
    for source in (
        Datasource(1, "Files and Folders"),
        Datasource(2, "System State", statistics=False),
        Datasource(3, "D03 (legacy)", statistics=False),
        Datasource(4, "MS Exchange"),
        Datasource(6, "Network Shares"),
        Datasource(7, "VSS System State"),
        Datasource(8, "VMware"),
        Datasource(10, "MS SQL"),
        Datasource(11, "SharePoint"),
        Datasource(12, "Oracle"),
        Datasource(14, "Hyper-V"),
        Datasource(15, "MySQL"),
        Datasource(5, "Microsoft 365 SharePoint", m365=True),
        Datasource(19, "Microsoft 365 Exchange", m365=True),
        Datasource(20, "Microsoft 365 OneDrive", m365=True),
        Datasource(23, "Microsoft 365 Teams", m365=True),
    )
}

# Legacy single-letter data-source codes that older accounts still report in I78.
LEGACY_DATASOURCE_LETTERS: dict[str, int] = {
    "F": 1,
    "S": 2,
    "X": 4,
    "N": 6,
    "W": 8,
    "Z": 10,
    "H": 14,
    "L": 15,
    "G": 19,
    "J": 20,
}

_STAT_FIELDS_REQUESTED = (F_LAST_STATUS, F_ERRORS, F_LAST_SUCCESS_AT, F_LAST_SESSION_AT)

# What the import asks for: the seeds' columns, the OS type for the account type, and for every
# data source whose statistics may be read its status, error count and the two session times.
DEFAULT_COLUMNS: tuple[str, ...] = (
    COL_ACCOUNT_NAME,
    COL_COMPUTER_NAME,
    COL_CUSTOMER_NAME,
    COL_OS_TYPE,
    COL_DATASOURCES,
    COL_LAST_STATUS,
    COL_ERRORS,
    COL_COLOUR_BAR,
    COL_LAST_SUCCESS_AT,
    COL_LAST_SESSION_AT,
    *(
        datasource_column(source.number, field)
        for source in DATASOURCES.values()
        if source.statistics
        for field in _STAT_FIELDS_REQUESTED
    ),
)


def datasource(number: int) -> Datasource:
    """The known data source, or a readable stand-in for a number the notes do not list."""
    return DATASOURCES.get(number) or Datasource(number, f"Data source D{number:02d}")


_DATASOURCE_NUMBER = re.compile(r"D(\d{1,3})", re.IGNORECASE)
_STAT_COLUMN = re.compile(r"D(\d{1,3})F\d{1,2}", re.IGNORECASE)


def parse_datasources(value: str | None) -> tuple[Datasource, ...]:
    """The data sources of an I78 value, in order, each once.

    Seen forms: ``"D01D02D10"``, ``"D1,D2"`` and, on old accounts, legacy letters such as ``"FSZ"``.
    The total (D09) is never a data source of its own.
    """
    text = (value or "").strip()
    if not text:
        return ()
    numbers: list[int]
    if _DATASOURCE_NUMBER.search(text):
        numbers = [int(match) for match in _DATASOURCE_NUMBER.findall(text)]
    else:
        numbers = [LEGACY_DATASOURCE_LETTERS[letter] for letter in text.upper() if letter in LEGACY_DATASOURCE_LETTERS]
    unique = dict.fromkeys(number for number in numbers if number != TOTAL_DATASOURCE)
    return tuple(datasource(number) for number in unique)


def datasource_labels(value: str | None) -> list[str]:
    return [source.label for source in parse_datasources(value)]


def readable_datasources(value: str | None) -> str:
    """I78 as people read it ("Files and Folders, MS SQL"); empty when the account reports none."""
    return ", ".join(datasource_labels(value))


# ---- reading values -----------------------------------------------------------------------------


def _text(stats: Mapping[str, str], code: str) -> str | None:
    value = stats.get(code)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


@functools.cache
def _spellings(number: int, field: int) -> tuple[str, ...]:
    # The seeds' spelling first: it is what DEFAULT_COLUMNS asks for, so it usually hits at once.
    return tuple(
        dict.fromkeys(
            (
                datasource_column(number, field),
                f"D{number:02d}F{field:02d}",
                f"D{number}F{field:02d}",
                f"D{number}F{field}",
                f"D{number:02d}F{field}",
            )
        )
    )


def stat_value(stats: Mapping[str, str], number: int, field: int) -> str | None:
    """A statistic of one data source, whichever of the usual spellings it was requested in."""
    for code in _spellings(number, field):
        value = _text(stats, code)
        if value is not None:
            return value
    return None


def parse_timestamp(value: str | int | None) -> datetime | None:
    """A Cove Unix-seconds value as a UTC-aware datetime; None for absent, zero or unreadable values."""
    seconds = _positive_int(value)
    if seconds is None:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _positive_int(value: str | int | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        return None
    return number if number > 0 else None


# ---- status mapping -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoveStatus:
    """A Cove session status and what Backupchecks makes of it.

    ``status`` is None only when there is no session to judge (code 0, empty or absent).
    """

    code: int | None
    name: str
    status: BackupStatus | None


# Code -> (name, Backupchecks status). 1-3 and 5-12 are the seeds' table ("Error" is "failed" here).
STATUS_CODES: dict[int, tuple[str, BackupStatus]] = {
    1: ("In process", "warning"),
    2: ("Failed", "failed"),
    3: ("Aborted", "failed"),
    # Missing from the seeds' table; N-able's scripts list it. A session Cove itself cannot judge
    # needs a look, but is no proof of failure.
    4: ("Unknown", "warning"),
    5: ("Completed", "success"),
    6: ("Interrupted", "failed"),
    7: ("Not started", "warning"),
    8: ("Completed with errors", "warning"),
    9: ("In progress with faults", "warning"),
    10: ("Over quota", "failed"),
    11: ("No selection", "warning"),
    12: ("Restarted", "warning"),
}
NO_BACKUP = CoveStatus(0, "No backup yet", None)


def map_status(value: str | int | None) -> CoveStatus:
    """Map a Cove status code (F00, F16, F17 or a colour-bar digit) to a Backupchecks status.

    Codes Cove may add later, and values that are not numbers at all, become warnings: never a
    silent success, and not a failure that nobody can explain either.
    """
    if value is None or str(value).strip() == "":
        return NO_BACKUP
    text = str(value).strip()
    try:
        code = int(text)
    except ValueError:
        return CoveStatus(None, f"Unreadable status {text!r}", "warning")
    if code == 0:
        return NO_BACKUP
    known = STATUS_CODES.get(code)
    if known is None:
        return CoveStatus(code, f"Unknown status code {code}", "warning")
    return CoveStatus(code, known[0], known[1])


def describe_status(status: CoveStatus) -> str:
    return f"{status.name} ({status.code})" if status.code is not None else status.name


# ---- account-level fields -----------------------------------------------------------------------


def run_timestamp(stats: Mapping[str, str]) -> int | None:
    """Unix seconds of the account's last session: D09F15, else the last successful one (D09F09)."""
    for field in (F_LAST_SESSION_AT, F_LAST_SUCCESS_AT):
        seconds = _positive_int(stat_value(stats, TOTAL_DATASOURCE, field))
        if seconds is not None:
            return seconds
    return None


def external_id_for(account_id: int, stats: Mapping[str, str]) -> str | None:
    """The run's deduplication key ``cove-{account_id}-{run_ts}``; None when the account has no session time."""
    run_ts = run_timestamp(stats)
    return None if run_ts is None else f"cove-{account_id}-{run_ts}"


def derive_account_type(stats: Mapping[str, str]) -> str:
    """Server, Workstation or Microsoft 365.

    Microsoft 365 when every data source is a Microsoft 365 one (those accounts have no machine),
    otherwise the OS type (I32: 2 server, 1 workstation). A missing or undefined OS type counts as
    a server: workstations take no part in missed-run detection, so guessing "Workstation" would
    hide missed backups, while a wrong "Server" at worst shows a missed run someone can see.
    """
    sources = parse_datasources(_text(stats, COL_DATASOURCES))
    if sources and all(source.m365 for source in sources):
        return TYPE_M365
    os_type = _text(stats, COL_OS_TYPE)
    if os_type == "2":
        return TYPE_SERVER
    if os_type == "1":
        return TYPE_WORKSTATION
    return TYPE_SERVER


def default_job_name(account_id: int, stats: Mapping[str, str]) -> str:
    """The Cove account name, else the computer name, else the account id."""
    return _text(stats, COL_ACCOUNT_NAME) or _text(stats, COL_COMPUTER_NAME) or f"Cove account {account_id}"


@dataclass(frozen=True)
class CoveAccountFields:
    """What the cove_accounts staging row and the accounts page show of one account."""

    account_name: str | None
    computer_name: str | None
    customer_name: str | None
    datasource_codes: str | None  # raw I78
    datasource_labels: tuple[str, ...]
    account_type: str
    last_status: CoveStatus
    last_run_at: datetime | None  # D09F15
    last_success_at: datetime | None  # D09F09
    colour_bar: str | None  # raw D09F08


def account_fields(stats: Mapping[str, str]) -> CoveAccountFields:
    datasource_codes = _text(stats, COL_DATASOURCES)
    return CoveAccountFields(
        account_name=_text(stats, COL_ACCOUNT_NAME),
        computer_name=_text(stats, COL_COMPUTER_NAME),
        customer_name=_text(stats, COL_CUSTOMER_NAME),
        datasource_codes=datasource_codes,
        datasource_labels=tuple(datasource_labels(datasource_codes)),
        account_type=derive_account_type(stats),
        last_status=map_status(stat_value(stats, TOTAL_DATASOURCE, F_LAST_STATUS)),
        last_run_at=parse_timestamp(stat_value(stats, TOTAL_DATASOURCE, F_LAST_SESSION_AT)),
        last_success_at=parse_timestamp(stat_value(stats, TOTAL_DATASOURCE, F_LAST_SUCCESS_AT)),
        colour_bar=stat_value(stats, TOTAL_DATASOURCE, F_COLOUR_BAR),
    )


# ---- per-data-source objects --------------------------------------------------------------------


def format_at(moment: datetime | None, tz: tzinfo = UTC) -> str:
    """A moment for stored text, in the UI timezone the caller passes (the zone is named)."""
    if moment is None:
        return "never"
    local = moment.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} ({local.tzname() or tz})"


@dataclass(frozen=True)
class CoveObject:
    """One data source of an account as a run object."""

    name: str  # readable label, e.g. "MS SQL"
    datasource_code: str  # e.g. "D10"
    status: BackupStatus | None
    status_code: int | None
    status_name: str
    details: str
    observed_at: datetime | None  # the data source's last session (UTC)


def _object_details(
    status: CoveStatus, errors: int | None, session_at: datetime | None, success_at: datetime | None, tz: tzinfo
) -> str:
    parts = [describe_status(status)]
    if errors:
        parts[0] += f", {errors} error{'s' if errors != 1 else ''}"
    parts.append(f"last session {format_at(session_at, tz)}")
    parts.append(f"last successful session {format_at(success_at, tz)}")
    return "; ".join(parts)


def datasource_objects(stats: Mapping[str, str], tz: tzinfo = UTC) -> tuple[CoveObject, ...]:
    """The account's data sources that report statistics, in I78 order.

    Data sources named in I78 without any statistics (System State, whose columns are not asked
    for) give no object: there is nothing to say about their result. Statistics of a data source
    that I78 does not name still count, so a stale or empty I78 hides nothing.
    """
    numbers = [source.number for source in parse_datasources(_text(stats, COL_DATASOURCES))]
    for code in stats:
        match = _STAT_COLUMN.fullmatch(code)
        if match and int(match.group(1)) not in (TOTAL_DATASOURCE, *numbers):
            numbers.append(int(match.group(1)))
    objects = []
    for number in numbers:
        raw_status = stat_value(stats, number, F_LAST_STATUS)
        session_at = parse_timestamp(stat_value(stats, number, F_LAST_SESSION_AT))
        if raw_status is None and session_at is None:
            continue
        status = map_status(raw_status)
        success_at = parse_timestamp(stat_value(stats, number, F_LAST_SUCCESS_AT))
        errors = _positive_int(stat_value(stats, number, F_ERRORS))
        source = datasource(number)
        objects.append(
            CoveObject(
                name=source.label,
                datasource_code=source.code,
                status=status.status,
                status_code=status.code,
                status_name=status.name,
                details=_object_details(status, errors, session_at, success_at, tz),
                observed_at=session_at,
            )
        )
    return tuple(objects)


# ---- the run ------------------------------------------------------------------------------------


def summary_text(account_id: int, stats: Mapping[str, str], tz: tzinfo = UTC) -> str:
    """The remark of a Cove run: account, computer, customer, last status and session times."""
    fields = account_fields(stats)
    account = fields.account_name or "(no name)"
    lines = [
        f"Cove account: {account} (id {account_id})",
        f"Computer: {fields.computer_name or '-'}",
        f"Customer: {fields.customer_name or '-'}",
        f"Type: {fields.account_type}",
        f"Last status: {describe_status(fields.last_status)}",
        f"Last session: {format_at(fields.last_run_at, tz)}",
        f"Last successful session: {format_at(fields.last_success_at, tz)}",
    ]
    errors = _positive_int(stat_value(stats, TOTAL_DATASOURCE, F_ERRORS))
    if errors:
        lines.append(f"Errors in the last session: {errors}")
    if fields.datasource_labels:
        lines.append(f"Data sources: {', '.join(fields.datasource_labels)}")
    return "\n".join(lines)


@dataclass(frozen=True)
class CoveRun:
    """A run to record for a linked account, with everything the import pass stores."""

    external_id: str
    run_at: datetime
    status: BackupStatus
    status_code: int | None
    status_name: str
    remark: str
    objects: tuple[CoveObject, ...]


def run_for(account_id: int, stats: Mapping[str, str], tz: tzinfo = UTC) -> CoveRun | None:
    """The run the account's last session stands for; None when it has no session time yet.

    A session time without a status (D09F00 absent) still makes a run, as a warning: a session
    happened and nobody can tell how it went.
    """
    run_ts = run_timestamp(stats)
    if run_ts is None:
        return None
    status = map_status(stat_value(stats, TOTAL_DATASOURCE, F_LAST_STATUS))
    return CoveRun(
        external_id=f"cove-{account_id}-{run_ts}",
        run_at=datetime.fromtimestamp(run_ts, tz=UTC),
        status=status.status or "warning",
        status_code=status.code if status.status is not None else None,
        status_name=status.name if status.status is not None else "No status reported",
        remark=summary_text(account_id, stats, tz),
        objects=datasource_objects(stats, tz),
    )


# ---- the 28-day colour bar ----------------------------------------------------------------------


@dataclass(frozen=True)
class ColourBarDay:
    days_ago: int  # 0 = the most recent day of the bar
    day: date | None  # set when the caller says which day the bar ends on
    code: int | None  # None: a character that is not a status digit
    name: str
    status: BackupStatus | None  # None: no session that day, or an unreadable character


def decode_colour_bar(value: str | None, *, as_of: date | None = None) -> tuple[ColourBarDay, ...]:
    """The per-day statuses of a D09F08 value, oldest first.

    What is known of the format (a third-party observation plus N-able's legacy decoding): one
    status digit per day, the last character being the most recent day. One digit cannot hold
    codes 10-12, so only 0-9 are read; any other character is reported as unreadable rather than
    guessed. A bar shorter or longer than 28 days is decoded as far as it goes.
    """
    text = (value or "").strip()
    days = []
    for position, char in enumerate(text):
        days_ago = len(text) - 1 - position
        day = as_of - timedelta(days=days_ago) if as_of is not None else None
        if char.isdigit() and char.isascii():
            status = map_status(char)
            days.append(ColourBarDay(days_ago, day, status.code, status.name, status.status))
        else:
            days.append(ColourBarDay(days_ago, day, None, f"Unreadable day {char!r}", None))
    return tuple(days)


def days_since_last_session(days: Sequence[ColourBarDay]) -> int | None:
    """How many of the most recent days of a decoded bar show no session; None when no day does.

    The basis for offline detection: a device that stops backing up shows trailing zero days.
    Unreadable days count as days without a session, since nothing shows that one took place.
    """
    for count, entry in enumerate(reversed(days)):
        if entry.code not in (None, 0):
            return count
    return None
