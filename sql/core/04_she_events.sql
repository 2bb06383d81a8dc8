-- Severe hypoglycaemia form -> events (ADA level 3: third-party assistance needed).
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
-- Form, fields and codes: the trial file's redcap.forms.she_events.
CREATE OR REPLACE TABLE core.she_events AS
WITH s AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE column_name = 'event_date')             AS event_date,
           max(value) FILTER (WHERE column_name = 'third_party_assistance') AS assistance,
           max(value) FILTER (WHERE column_name = 'glucose_mg_dl')          AS glucose
    FROM redcap_values WHERE core_table = 'she_events'
    GROUP BY ALL
)
SELECT record_id                                  AS participant_id,
       TRY_STRPTIME(event_date, '%Y-%m-%d')::DATE AS event_date,
       assistance = 'true'                        AS third_party_assistance,
       TRY_CAST(glucose AS DOUBLE)                AS glucose_mg_dl,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM s
ORDER BY participant_id, event_date, source_file_id, source_row;
