-- Central-lab results, typed and converted to one unit per analyte; the result and unit as
-- sent stay in value_original / unit_original. Conversions:
--   HbA1c: IFCC mmol/mol -> NGSP % = 0.0915 x IFCC + 2.15 (IFCC-NGSP master equation,
--          Hoelzel et al., Clin Chem 2004;50:166); % unchanged.
--   C-peptide: -> pmol/L; nmol/L x 1000; ng/mL x 331 (1 ng/mL = 0.331 nmol/L, M = 3020.3 g/mol).
--   ANC: -> cells/mm3; 10^9/L x 1000 (1 x 10^9/L = 1000 /uL = 1000 /mm3).
-- A unit not listed gives a NULL value (quality rule unknown_unit).
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
)
SELECT subject_id                                     AS participant_id,
       site_id,
       visit,
       collected                                      AS collection_date,
       test_code                                      AS analyte,
       CASE
           WHEN test_code = 'HBA1C' AND u = '%' THEN number
           WHEN test_code = 'HBA1C' AND u = 'mmol/mol' THEN 0.0915 * number + 2.15
           WHEN test_code LIKE 'CPEP%' AND u = 'pmol/l' THEN number
           WHEN test_code LIKE 'CPEP%' AND u = 'nmol/l' THEN number * 1000
           WHEN test_code LIKE 'CPEP%' AND u = 'ng/ml' THEN number * 331
           WHEN test_code = 'ANC' AND u IN ('cells/mm3', '/mm3', 'cells/ul', '/ul') THEN number
           WHEN test_code = 'ANC' AND u IN ('10^9/l', 'x10^9/l', '10*9/l', 'g/l') THEN number * 1000
       END                                            AS value,
       CASE WHEN test_code = 'HBA1C' THEN '%'
            WHEN test_code LIKE 'CPEP%' THEN 'pmol/L'
            WHEN test_code = 'ANC' THEN 'cells/mm3' END AS unit,
       accession_sent                                 AS accession,
       CASE WHEN several THEN accession_norm END    AS accession_key,
       result                                         AS value_original,
       unit                                           AS unit_original,
       file_id AS source_file_id, row_number AS source_row
FROM specimens
ORDER BY participant_id, collection_date, analyte, source_file_id, source_row;
