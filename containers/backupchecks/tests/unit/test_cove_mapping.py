"""Pure mapping of Cove account statistics: status codes, dedup keys, types, objects, colour bar."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from backend.app.services.cove_mapping import (
    DEFAULT_COLUMNS,
    NO_BACKUP,
    TYPE_M365,
    TYPE_SERVER,
    TYPE_WORKSTATION,
    CoveStatus,
    account_fields,
    datasource_column,
    datasource_objects,
    days_since_last_session,
    decode_colour_bar,
    default_job_name,
    derive_account_type,
    external_id_for,
    map_status,
    parse_datasources,
    parse_timestamp,
    readable_datasources,
    run_for,
    stat_value,
    summary_text,
)
from tests.fakes.cove_server import generate_accounts

SESSION_TS = 1772406089  # 2026-03-01 23:01:29 UTC
SUCCESS_TS = 1772319600  # 2026-02-28 23:00:00 UTC


def server_stats(**overrides: str) -> dict[str, str]:
    stats = {
        "I1": "srv-f4255",
        "I18": "SRV-FS01",
        "I8": "Customer 001",
        "I32": "2",
        "I78": "D01D02D10",
        "D09F00": "8",
        "D09F06": "3",
        "D09F08": "5555555555555555555555555558",
        "D09F09": str(SUCCESS_TS),
        "D09F15": str(SESSION_TS),
        "D1F00": "5",
        "D1F15": str(SESSION_TS - 600),
        "D1F09": str(SESSION_TS - 600),
        "D10F00": "8",
        "D10F06": "3",
        "D10F15": str(SESSION_TS),
        "D10F09": str(SUCCESS_TS),
    }
    stats.update(overrides)
    return {code: value for code, value in stats.items() if value != "<absent>"}


# ---- status mapping ---------------------------------------------------------------------------

SEEDS_TABLE = [
    (1, "In process", "warning"),
    (2, "Failed", "failed"),
    (3, "Aborted", "failed"),
    (4, "Unknown", "warning"),
    (5, "Completed", "success"),
    (6, "Interrupted", "failed"),
    (7, "Not started", "warning"),
    (8, "Completed with errors", "warning"),
    (9, "In progress with faults", "warning"),
    (10, "Over quota", "failed"),
    (11, "No selection", "warning"),
    (12, "Restarted", "warning"),
]


@pytest.mark.parametrize(("code", "name", "status"), SEEDS_TABLE)
def test_every_status_code_maps_as_the_seeds_say(code: int, name: str, status: str) -> None:
    assert map_status(str(code)) == CoveStatus(code, name, status)
    assert map_status(code) == CoveStatus(code, name, status)
    assert map_status(f" {code} ") == CoveStatus(code, name, status)


@pytest.mark.parametrize("value", [None, "", "  ", "0", 0])
def test_no_session_has_no_status(value: str | int | None) -> None:
    assert map_status(value) == NO_BACKUP
    assert NO_BACKUP.status is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("13", CoveStatus(13, "Unknown status code 13", "warning")),
        ("99", CoveStatus(99, "Unknown status code 99", "warning")),
        ("-1", CoveStatus(-1, "Unknown status code -1", "warning")),
        ("Completed", CoveStatus(None, "Unreadable status 'Completed'", "warning")),
    ],
)
def test_unknown_codes_become_warnings(value: str, expected: CoveStatus) -> None:
    assert map_status(value) == expected


# ---- dedup key and timestamps -----------------------------------------------------------------


def test_external_id_uses_the_last_session_time() -> None:
    assert external_id_for(1000021, server_stats()) == f"cove-1000021-{SESSION_TS}"


@pytest.mark.parametrize("absent", ["<absent>", "", "0", "not-a-number"])
def test_external_id_falls_back_to_the_last_successful_session(absent: str) -> None:
    assert external_id_for(7, server_stats(D09F15=absent)) == f"cove-7-{SUCCESS_TS}"


def test_external_id_is_none_without_any_session_time() -> None:
    assert external_id_for(7, server_stats(D09F15="<absent>", D09F09="0")) is None
    assert external_id_for(7, {}) is None


def test_external_id_reads_other_spellings_of_the_total() -> None:
    assert external_id_for(7, {"D9F15": str(SESSION_TS)}) == f"cove-7-{SESSION_TS}"
    assert stat_value({"D01F00": "5"}, 1, 0) == "5"
    assert datasource_column(9, 0) == "D09F00" and datasource_column(10, 15) == "D10F15"


def test_timestamps_are_utc_aware() -> None:
    moment = parse_timestamp(str(SESSION_TS))
    assert moment == datetime(2026, 3, 1, 23, 1, 29, tzinfo=UTC)
    assert moment is not None and moment.utcoffset() is not None
    assert parse_timestamp("0") is None and parse_timestamp("x") is None and parse_timestamp(None) is None


# ---- data sources and account type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("i78", "labels"),
    [
        ("D01D02D10", ["Files and Folders", "System State", "MS SQL"]),
        ("D1,D2", ["Files and Folders", "System State"]),
        (
            "D19D20D05D23",
            ["Microsoft 365 Exchange", "Microsoft 365 OneDrive", "Microsoft 365 SharePoint", "Microsoft 365 Teams"],
        ),
        ("FSZ", ["Files and Folders", "System State", "MS SQL"]),
        ("D01D01D09", ["Files and Folders"]),
        ("D01D42", ["Files and Folders", "Data source D42"]),
        ("", []),
        (None, []),
    ],
)
def test_datasource_labels_are_readable(i78: str | None, labels: list[str]) -> None:
    assert [source.label for source in parse_datasources(i78)] == labels
    assert readable_datasources(i78) == ", ".join(labels)


@pytest.mark.parametrize(
    ("stats", "expected"),
    [
        ({"I32": "2", "I78": "D01D02"}, TYPE_SERVER),
        ({"I32": "1", "I78": "D01D02"}, TYPE_WORKSTATION),
        ({"I78": "D19D20"}, TYPE_M365),
        ({"I78": "D05D23", "I32": "0"}, TYPE_M365),
        ({"I32": "1", "I78": "D01D19"}, TYPE_WORKSTATION),  # a machine that also backs up a mailbox
        ({"I32": "0", "I78": "D01"}, TYPE_SERVER),  # undefined OS type: never hide missed runs
        ({}, TYPE_SERVER),
    ],
)
def test_account_type_is_derived(stats: dict[str, str], expected: str) -> None:
    assert derive_account_type(stats) == expected


def test_default_columns_cover_the_seeds_and_skip_unreadable_statistics() -> None:
    for code in ("I1", "I18", "I8", "I78", "D09F00", "D09F09", "D09F15", "D09F08"):
        assert code in DEFAULT_COLUMNS
    for number in (1, 10, 11, 19, 20, 5, 23):
        assert f"D{number}F00" in DEFAULT_COLUMNS and f"D{number}F15" in DEFAULT_COLUMNS
    assert not [code for code in DEFAULT_COLUMNS if code.startswith(("D2F", "D3F", "D02F", "D03F"))]
    assert len(DEFAULT_COLUMNS) == len(set(DEFAULT_COLUMNS))


def test_account_fields_for_the_staging_row() -> None:
    fields = account_fields(server_stats())
    assert fields.account_name == "srv-f4255" and fields.computer_name == "SRV-FS01"
    assert fields.customer_name == "Customer 001" and fields.datasource_codes == "D01D02D10"
    assert fields.datasource_labels == ("Files and Folders", "System State", "MS SQL")
    assert fields.account_type == TYPE_SERVER
    assert fields.last_status == CoveStatus(8, "Completed with errors", "warning")
    assert fields.last_run_at == datetime(2026, 3, 1, 23, 1, 29, tzinfo=UTC)
    assert fields.last_success_at == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert fields.colour_bar == "5555555555555555555555555558"
    assert default_job_name(5, server_stats()) == "srv-f4255"
    assert default_job_name(5, server_stats(I1="<absent>")) == "SRV-FS01"
    assert default_job_name(5, {}) == "Cove account 5"


# ---- objects, remark and run ------------------------------------------------------------------


def test_each_reporting_datasource_becomes_an_object() -> None:
    files, sql = datasource_objects(server_stats())  # System State reports no statistics

    assert (files.name, files.datasource_code, files.status, files.status_code) == (
        "Files and Folders",
        "D01",
        "success",
        5,
    )
    assert files.observed_at == datetime(2026, 3, 1, 22, 51, 29, tzinfo=UTC)
    assert (sql.name, sql.status, sql.status_name) == ("MS SQL", "warning", "Completed with errors")
    assert sql.details == (
        "Completed with errors (8), 3 errors; last session 2026-03-01 23:01 (UTC); "
        "last successful session 2026-02-28 23:00 (UTC)"
    )
    assert sql.observed_at is not None and sql.observed_at.tzinfo is not None


def test_objects_include_statistics_that_i78_does_not_name() -> None:
    stats = {"I78": "", "D19F00": "2", "D19F15": str(SESSION_TS)}
    (exchange,) = datasource_objects(stats)
    assert (exchange.name, exchange.status) == ("Microsoft 365 Exchange", "failed")
    assert exchange.details.startswith("Failed (2); last session")
    assert "never" in exchange.details  # no last successful session


def test_details_use_the_timezone_given() -> None:
    (files, _sql) = datasource_objects(server_stats(), ZoneInfo("Europe/Amsterdam"))
    assert "last session 2026-03-01 23:51 (CET)" in files.details


def test_summary_names_account_computer_customer_and_last_status() -> None:
    assert summary_text(1000021, server_stats()) == "\n".join(
        [
            "Cove account: srv-f4255 (id 1000021)",
            "Computer: SRV-FS01",
            "Customer: Customer 001",
            "Type: Server",
            "Last status: Completed with errors (8)",
            "Last session: 2026-03-01 23:01 (UTC)",
            "Last successful session: 2026-02-28 23:00 (UTC)",
            "Errors in the last session: 3",
            "Data sources: Files and Folders, System State, MS SQL",
        ]
    )


def test_run_for_a_linked_account() -> None:
    run = run_for(1000021, server_stats())
    assert run is not None
    assert run.external_id == f"cove-1000021-{SESSION_TS}"
    assert run.run_at == datetime(2026, 3, 1, 23, 1, 29, tzinfo=UTC)
    assert (run.status, run.status_code, run.status_name) == ("warning", 8, "Completed with errors")
    assert run.remark == summary_text(1000021, server_stats())
    assert [o.name for o in run.objects] == ["Files and Folders", "MS SQL"]


def test_run_without_a_status_is_a_warning_and_without_a_time_is_none() -> None:
    run = run_for(3, server_stats(D09F00="<absent>"))
    assert run is not None
    assert (run.status, run.status_code, run.status_name) == ("warning", None, "No status reported")
    fallback = run_for(3, server_stats(D09F15="<absent>", D09F00="2"))
    assert fallback is not None and fallback.run_at == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert fallback.status == "failed"
    assert run_for(3, {"I1": "new-device", "I78": "D01"}) is None


# ---- colour bar -------------------------------------------------------------------------------


def test_colour_bar_decodes_one_status_per_day_newest_last() -> None:
    days = decode_colour_bar("5555555555555555555555555028", as_of=date(2026, 3, 2))

    assert len(days) == 28
    assert [day.days_ago for day in days] == list(range(27, -1, -1))
    assert days[0].day == date(2026, 2, 3) and days[-1].day == date(2026, 3, 2)
    assert [(d.code, d.status) for d in days[-4:]] == [(5, "success"), (0, None), (2, "failed"), (8, "warning")]
    assert days[-1].name == "Completed with errors"
    assert days_since_last_session(days) == 0


def test_colour_bar_offline_days_and_odd_values() -> None:
    offline = decode_colour_bar("5" * 20 + "0" * 8)
    assert days_since_last_session(offline) == 8
    assert offline[0].day is None
    assert days_since_last_session(decode_colour_bar("0" * 28)) is None
    assert decode_colour_bar(None) == () and decode_colour_bar("") == ()
    (odd, five) = decode_colour_bar("x5")
    assert (odd.code, odd.status, odd.name) == (None, None, "Unreadable day 'x'")
    assert five.status == "success"
    assert len(decode_colour_bar("5" * 30)) == 30


# ---- the fake's generated accounts map without surprises --------------------------------------


def test_generated_accounts_cover_every_case_the_import_meets() -> None:
    _partners, accounts = generate_accounts(600, seed=4)

    # The fake stores one canonical spelling; read it back as the client would after asking for DEFAULT_COLUMNS.
    types = Counter(derive_account_type(a.settings) for a in accounts)
    assert set(types) == {TYPE_SERVER, TYPE_WORKSTATION, TYPE_M365}
    codes = {map_status(stat_value(a.settings, 9, 0)).code for a in accounts}
    assert set(range(13)) <= codes
    runs = [run_for(a.account_id, a.settings) for a in accounts]
    assert any(run is None for run in runs)  # never backed up
    assert all(run is None or run.objects for run in runs)
    assert any(days_since_last_session(decode_colour_bar(a.settings.get("D9F8"))) for a in accounts)
    assert any(a.flags is None for a in accounts)
    assert generate_accounts(50, seed=4)[1] == generate_accounts(50, seed=4)[1]
