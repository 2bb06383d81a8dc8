-- Concomitant medication form.
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
-- Form and fields: the trial file's redcap.forms.concomitant_medications.
CREATE OR REPLACE TABLE core.concomitant_medications AS
WITH c AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE column_name = 'medication') AS medication,
           max(value) FILTER (WHERE column_name = 'indication') AS indication,
           max(value) FILTER (WHERE column_name = 'start_date') AS start_date,
           max(value) FILTER (WHERE column_name = 'stop_date')  AS stop_date
    FROM redcap_values WHERE core_table = 'concomitant_medications'
    GROUP BY ALL
)
SELECT record_id                                  AS participant_id,
       medication,
       indication,
       TRY_STRPTIME(start_date, '%Y-%m-%d')::DATE AS start_date,
       TRY_STRPTIME(stop_date, '%Y-%m-%d')::DATE  AS stop_date,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM c
ORDER BY participant_id, start_date, medication, source_file_id, source_row;
