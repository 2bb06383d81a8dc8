-- Infusion form -> the infusion day and the dose group: the arm (raw.trial_arms) with the
-- highest dose fraction not above the infused fraction; a smaller fraction above 0 belongs to
-- the lowest arm. Form and fields: the trial file's redcap.forms.infusions.
CREATE OR REPLACE TABLE core.infusions AS
WITH i AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE column_name = 'infusion_date') AS infusion_date,
           max(value) FILTER (WHERE column_name = 'study_part')    AS study_part,
           max(value) FILTER (WHERE column_name = 'dose_fraction') AS dose_fraction
    FROM redcap_values WHERE core_table = 'infusions'
    GROUP BY file_id, row_number, record_id
), typed AS (
    SELECT *, TRY_CAST(dose_fraction AS DOUBLE) AS fraction FROM i
)
SELECT record_id                                      AS participant_id,
       TRY_STRPTIME(infusion_date, '%Y-%m-%d')::DATE  AS infusion_date,
       study_part,
       fraction                                       AS dose_fraction,
       CASE WHEN fraction > 0 THEN coalesce(
           (SELECT arm_id FROM raw.trial_arms WHERE dose_fraction <= fraction
            ORDER BY dose_fraction DESC LIMIT 1),
           (SELECT arm_id FROM raw.trial_arms ORDER BY dose_fraction LIMIT 1)) END AS dose_group,
       file_id AS source_file_id, row_number AS source_row
FROM typed
ORDER BY participant_id, source_file_id, source_row;
