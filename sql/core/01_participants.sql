-- Enrolment form -> one row per participant. Site from the file's landing folder. Form, fields
-- and codes: the trial file's redcap.forms.participants (core/00b_redcap_values.sql).
CREATE OR REPLACE TABLE core.participants AS
WITH e AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE column_name = 'enrolment_date')          AS enrolment_date,
           max(value) FILTER (WHERE column_name = 'age_years')               AS age_years,
           max(value) FILTER (WHERE column_name = 'sex')                     AS sex,
           max(value) FILTER (WHERE column_name = 'weight_kg')               AS weight_kg,
           max(value) FILTER (WHERE column_name = 'diabetes_duration_years') AS duration
    FROM redcap_values WHERE core_table = 'participants'
    GROUP BY file_id, row_number, record_id
)
SELECT e.record_id                                   AS participant_id,
       f.site_id,
       TRY_STRPTIME(e.enrolment_date, '%Y-%m-%d')::DATE AS enrolment_date,
       TRY_CAST(e.age_years AS INTEGER)              AS age_years,
       e.sex,
       TRY_CAST(e.weight_kg AS DOUBLE)               AS weight_kg,
       TRY_CAST(e.duration AS INTEGER)               AS diabetes_duration_years,
       e.file_id                                     AS source_file_id,
       e.row_number                                  AS source_row
FROM e JOIN audit.files AS f USING (file_id)
ORDER BY participant_id, source_file_id, source_row;
