-- What a CGM file's rows depend on besides the file (sql/core/01b_quarantined_files.sql: is
-- the participant enrolled, at the sending site; sql/quality/rules/03_time_plausibility.sql:
-- the enrolment date), per participant, as one digest of values (no lineage: a cumulative
-- REDCap export sending the same enrolment again changes nothing). A participant whose digest
-- differs from the published warehouse's has every CGM file rebuilt.
CREATE OR REPLACE TABLE audit.cgm_context AS
SELECT participant_id,
       md5(coalesce(string_agg(DISTINCT site_id, ',' ORDER BY site_id), '') || '|'
           || coalesce(string_agg(DISTINCT enrolment_date::VARCHAR, ','
                                  ORDER BY enrolment_date::VARCHAR), '')) AS digest
FROM core.participants
GROUP BY participant_id;
