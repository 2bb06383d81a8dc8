-- Severe hypoglycaemia form -> events (ADA level 3: third-party assistance needed).
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
CREATE OR REPLACE TABLE core.she_events AS
WITH s AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE field = 'she_date')          AS she_date,
           max(value) FILTER (WHERE field = 'she_assist')        AS she_assist,
           max(value) FILTER (WHERE field = 'she_glucose_mg_dl') AS she_glucose
    FROM raw.redcap WHERE form = 'severe_hypoglycemia'
    GROUP BY ALL
)
SELECT record_id                                AS participant_id,
       TRY_STRPTIME(she_date, '%Y-%m-%d')::DATE AS event_date,
       she_assist = '1'                         AS third_party_assistance,
       TRY_CAST(she_glucose AS DOUBLE)          AS glucose_mg_dl,
       redcap_event_name                        AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM s
ORDER BY participant_id, event_date, source_file_id, source_row;
