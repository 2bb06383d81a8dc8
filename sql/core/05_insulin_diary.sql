-- Insulin diary form -> daily exogenous insulin (basal + bolus = total daily dose, U/day).
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
-- Form and fields: the trial file's redcap.forms.insulin_diary.
CREATE OR REPLACE TABLE core.insulin_diary AS
WITH d AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE column_name = 'diary_date') AS diary_date,
           max(value) FILTER (WHERE column_name = 'basal_u')    AS basal_u,
           max(value) FILTER (WHERE column_name = 'bolus_u')    AS bolus_u
    FROM redcap_values WHERE core_table = 'insulin_diary'
    GROUP BY ALL
)
SELECT record_id                                  AS participant_id,
       TRY_STRPTIME(diary_date, '%Y-%m-%d')::DATE AS diary_date,
       TRY_CAST(basal_u AS DOUBLE)                AS basal_u,
       TRY_CAST(bolus_u AS DOUBLE)                AS bolus_u,
       TRY_CAST(basal_u AS DOUBLE) + TRY_CAST(bolus_u AS DOUBLE) AS total_daily_dose_u,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM d
ORDER BY participant_id, diary_date, source_file_id, source_row;
