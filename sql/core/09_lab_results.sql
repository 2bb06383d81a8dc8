-- Central-lab results, typed. value keeps the reported unit; value_original the text as sent.
CREATE OR REPLACE TABLE core.lab_results AS
SELECT r.subject_id                                       AS participant_id,
       f.site_id,
       r.visit,
       TRY_STRPTIME(r.collection_date, '%Y-%m-%d')::DATE  AS collection_date,
       r.test_code                                        AS analyte,
       TRY_CAST(r.result AS DOUBLE)                       AS value,
       r.unit,
       r.result                                           AS value_original,
       r.file_id AS source_file_id, r.row_number AS source_row
FROM raw.central_lab AS r JOIN audit.files AS f USING (file_id)
ORDER BY participant_id, collection_date, analyte, source_file_id, source_row;
