-- Central-lab results, typed and converted to one unit per analyte; the result and unit as
-- sent stay in value_original / unit_original. The trial file's [[lab_tests]] map the lab's
-- test codes to analytes (hba1c %, c_peptide_fasting / c_peptide_stimulated pmol/L, anc
-- cells/mm3) and list the units the lab may send with their conversions (raw.trial_lab_units:
-- value = result x factor + addend). A test code the trial does not list has no analyte and a
-- unit it does not list for that code no value (quality rules unknown_analyte, unknown_unit).
-- Record identity: (participant, visit, collection date, test code, accession_key); see
-- sql/resolve/. Two specimens of one test on one day can only be told apart by the lab's
-- accession number, so accession_key is the accession only where some file holds more than
-- one result for that (participant, visit, date, test); elsewhere it is empty, so a re-send
-- that adds, drops or re-formats the accession column (Excel strips leading zeros) is the same
-- result, never a second one. The accession is compared trimmed, upper case, without leading
-- zeros; the date as parsed (2023-10-1 = 2023-10-01).
CREATE OR REPLACE TABLE core.lab_results AS
WITH r AS (
    SELECT r.*, f.site_id,
           TRY_CAST(CASE WHEN r.decimal_mark = ',' THEN replace(trim(r.result), ',', '.')
                         ELSE trim(r.result) END AS DOUBLE) AS number,
           lower(replace(replace(trim(r.unit), ' ', ''), '×', 'x')) AS u,
           NULLIF(trim(r.accession), '') AS accession_sent,
           NULLIF(ltrim(upper(trim(r.accession)), '0'), '') AS accession_norm,
           TRY_STRPTIME(r.collection_date, '%Y-%m-%d')::DATE AS collected
    FROM raw.central_lab AS r JOIN audit.files AS f USING (file_id)
), specimens AS (
    SELECT *, max(n_in_file) OVER (PARTITION BY subject_id, visit, collected, test_code) > 1
                  AS several
    FROM (SELECT *, count(*) OVER (PARTITION BY file_id, subject_id, visit, collected,
                                                test_code) AS n_in_file FROM r)
), tests AS (
    SELECT DISTINCT test_code, analyte, analyte_unit FROM raw.trial_lab_units
)
SELECT s.subject_id                                   AS participant_id,
       s.site_id,
       s.visit,
       s.collected                                    AS collection_date,
       s.test_code,
       t.analyte,
       s.number * u.factor + u.addend                 AS value,
       t.analyte_unit                                 AS unit,
       s.accession_sent                               AS accession,
       CASE WHEN s.several THEN s.accession_norm END  AS accession_key,
       s.result                                       AS value_original,
       s.unit                                         AS unit_original,
       s.file_id AS source_file_id, s.row_number AS source_row
FROM specimens AS s
LEFT JOIN tests AS t USING (test_code)
LEFT JOIN raw.trial_lab_units AS u ON u.test_code = s.test_code AND u.unit_key = s.u
ORDER BY participant_id, collection_date, test_code, source_file_id, source_row;
