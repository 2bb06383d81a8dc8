-- Enrolment form -> one row per participant. Site from the file's landing folder.
CREATE OR REPLACE TABLE core.participants AS
WITH e AS (
    SELECT file_id, row_number, record_id,
           max(value) FILTER (WHERE field = 'enrol_date')     AS enrol_date,
           max(value) FILTER (WHERE field = 'age')            AS age,
           max(value) FILTER (WHERE field = 'sex')            AS sex,
           max(value) FILTER (WHERE field = 'weight_kg')      AS weight_kg,
           max(value) FILTER (WHERE field = 't1d_duration_y') AS t1d_duration_y
    FROM raw.redcap WHERE form = 'enrolment'
    GROUP BY file_id, row_number, record_id
)
SELECT e.record_id                           AS participant_id,
       f.site_id,
       TRY_STRPTIME(e.enrol_date, '%Y-%m-%d')::DATE AS enrolment_date,
       TRY_CAST(e.age AS INTEGER)            AS age_years,
       CASE e.sex WHEN '1' THEN 'F' WHEN '2' THEN 'M' END AS sex,
       TRY_CAST(e.weight_kg AS DOUBLE)       AS weight_kg,
       TRY_CAST(e.t1d_duration_y AS INTEGER) AS diabetes_duration_years,
       e.file_id                             AS source_file_id,
       e.row_number                          AS source_row
FROM e JOIN audit.files AS f USING (file_id)
ORDER BY participant_id, source_file_id, source_row;
