"""Record identity: the natural key of every core table (DESIGN.md, "Record identity").

Across files the row from the file received last is current; an older row with the same
values is ``overlap``, one with other values is ``superseded`` (kept in
``audit.superseded_records`` with the file that replaced it). ``record_status`` in each core
table says which. After resolution, the key must be unique over the current rows: the check in
:func:`isletflow.quality.key_violations` fails the build otherwise (a record counted twice is a
wrong endpoint, never a data query).

REDCap forms: (record, event, repeat instrument, repeat instance, form); the form is the table
and the instrument is the form, so a repeating form's key is (participant, event, instance).
The non-repeating forms of this trial (enrolment, infusion, disposition) are filed once per
participant, so their key is the participant. Central lab: (participant, visit, collection
date, test code, accession when every file sends one). CGM: (participant, device, UTC time).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordKey:
    """The key columns of a core table, and the columns left out when two rows of one key are
    compared (values as sent, whose differences are not a different record value)."""

    columns: tuple[str, ...]
    not_compared: tuple[str, ...] = ()
    # a later export of the same kind that lacks a key an earlier export had is a warning
    # query (a record deleted at the site?). Not for CGM: device exports cover periods.
    check_missing: bool = True
    # two current records of a participant with equal values under different keys from
    # different exports are a warning (one record filed again under another REDCap event or
    # instance): for repeating REDCap forms, whose key the site's project can change
    check_duplicates: bool = False


REDCAP_REPEATING = ("participant_id", "event_name", "instance")

CORE_KEYS: dict[str, RecordKey] = {
    "participants": RecordKey(("participant_id",)),
    "infusions": RecordKey(("participant_id",)),
    "cgm_readings": RecordKey(("participant_id", "device", "timestamp_utc"),
                              ("site_id", "interval_min", "timestamp_local", "glucose_original",
                               "unit_original"), check_missing=False),
    "she_events": RecordKey(REDCAP_REPEATING, check_duplicates=True),
    "insulin_diary": RecordKey(REDCAP_REPEATING, check_duplicates=True),
    "adverse_events": RecordKey(REDCAP_REPEATING, check_duplicates=True),
    "concomitant_medications": RecordKey(REDCAP_REPEATING, check_duplicates=True),
    "disposition": RecordKey(("participant_id",)),
    "lab_results": RecordKey(("participant_id", "visit", "collection_date", "test_code",
                              "accession_key"), ("accession", "value_original", "unit_original")),
    "fingerstick_glucose": RecordKey(("participant_id", "timestamp_utc"),
                                     ("site_id", "timestamp_local", "glucose_original",
                                      "unit_original"), check_missing=False),
}
