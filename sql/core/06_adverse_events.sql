-- Adverse event form (MedDRA preferred term and system organ class, seriousness, CTCAE grade).
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
-- Form, fields and codes: the trial file's redcap.forms.adverse_events.
CREATE OR REPLACE TABLE core.adverse_events AS
WITH a AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE column_name = 'preferred_term')     AS preferred_term,
           max(value) FILTER (WHERE column_name = 'system_organ_class') AS system_organ_class,
           max(value) FILTER (WHERE column_name = 'onset_date')         AS onset_date,
           max(value) FILTER (WHERE column_name = 'serious')            AS serious,
           max(value) FILTER (WHERE column_name = 'ctcae_grade')        AS ctcae_grade,
           max(value) FILTER (WHERE column_name = 'outcome')            AS outcome
    FROM redcap_values WHERE core_table = 'adverse_events'
    GROUP BY ALL
)
SELECT record_id                                  AS participant_id,
       preferred_term,
       system_organ_class,
       TRY_STRPTIME(onset_date, '%Y-%m-%d')::DATE AS onset_date,
       serious = 'true'                           AS serious,
       TRY_CAST(ctcae_grade AS INTEGER)           AS ctcae_grade,
       outcome,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM a
ORDER BY participant_id, onset_date, source_file_id, source_row;
