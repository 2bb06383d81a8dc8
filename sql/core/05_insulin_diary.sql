-- Insulin diary form -> daily exogenous insulin (basal + bolus = total daily dose, U/day).
CREATE OR REPLACE TABLE core.insulin_diary AS
WITH d AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE field = 'diary_date') AS diary_date,
           max(value) FILTER (WHERE field = 'basal_u')    AS basal_u,
           max(value) FILTER (WHERE field = 'bolus_u')    AS bolus_u
    FROM raw.redcap WHERE form = 'insulin_diary'
    GROUP BY ALL
)
SELECT record_id                                  AS participant_id,
       TRY_STRPTIME(diary_date, '%Y-%m-%d')::DATE AS diary_date,
       TRY_CAST(basal_u AS DOUBLE)                AS basal_u,
       TRY_CAST(bolus_u AS DOUBLE)                AS bolus_u,
       TRY_CAST(basal_u AS DOUBLE) + TRY_CAST(bolus_u AS DOUBLE) AS total_daily_dose_u,
       file_id AS source_file_id, row_number AS source_row
FROM d
ORDER BY participant_id, diary_date, source_file_id, source_row;
