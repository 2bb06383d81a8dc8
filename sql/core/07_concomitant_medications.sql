-- Concomitant medication form.
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
CREATE OR REPLACE TABLE core.concomitant_medications AS
WITH c AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE field = 'cm_name')       AS cm_name,
           max(value) FILTER (WHERE field = 'cm_indication') AS cm_indication,
           max(value) FILTER (WHERE field = 'cm_start_date') AS cm_start_date,
           max(value) FILTER (WHERE field = 'cm_stop_date')  AS cm_stop_date
    FROM raw.redcap WHERE form = 'concomitant_medications'
    GROUP BY ALL
)
SELECT record_id                                     AS participant_id,
       cm_name                                       AS medication,
       cm_indication                                 AS indication,
       TRY_STRPTIME(cm_start_date, '%Y-%m-%d')::DATE AS start_date,
       TRY_STRPTIME(cm_stop_date, '%Y-%m-%d')::DATE  AS stop_date,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM c
ORDER BY participant_id, start_date, medication, source_file_id, source_row;
