-- Infusion form -> day 0 and dose group (dose_fraction 1.0 = full dose, 0.5 = half dose).
CREATE OR REPLACE TABLE core.infusions AS
WITH i AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE field = 'infusion_date') AS infusion_date,
           max(value) FILTER (WHERE field = 'study_part')    AS study_part,
           max(value) FILTER (WHERE field = 'dose_fraction') AS dose_fraction
    FROM raw.redcap WHERE form = 'infusion'
    GROUP BY file_id, row_number, record_id
)
SELECT record_id                                      AS participant_id,
       TRY_STRPTIME(infusion_date, '%Y-%m-%d')::DATE  AS infusion_date,
       study_part,
       TRY_CAST(dose_fraction AS DOUBLE)              AS dose_fraction,
       CASE WHEN TRY_CAST(dose_fraction AS DOUBLE) >= 1.0 THEN 'full'
            WHEN TRY_CAST(dose_fraction AS DOUBLE) > 0 THEN 'half' END AS dose_group,
       file_id AS source_file_id, row_number AS source_row
FROM i
ORDER BY participant_id, source_file_id, source_row;
