-- What a CGM file's rows depend on besides the file (sql/core/01b_quarantined_files.sql: is
-- the participant enrolled, at the sending site; sql/quality/rules/03_time_plausibility.sql:
-- the current enrolment date), per participant, as one digest: the sequence of (site,
-- enrolment date) over the participant's enrolment rows in the order the files were received,
-- a value repeated by the next export counted once. A cumulative REDCap export sending the
-- same enrolment again changes nothing; a new value, or a return to an earlier one, does. A
-- participant whose digest differs from the published warehouse's has every CGM file rebuilt.
CREATE OR REPLACE TABLE audit.cgm_context AS
WITH rows AS (
    SELECT p.participant_id, p.site_id, p.enrolment_date, f.received_at, f.rel_path,
           p.source_row
    FROM core.participants AS p JOIN audit.files AS f ON f.file_id = p.source_file_id
), steps AS (
    SELECT *, lag(site_id) OVER w AS last_site, lag(enrolment_date) OVER w AS last_date,
           row_number() OVER w AS nth
    FROM rows
    WINDOW w AS (PARTITION BY participant_id ORDER BY received_at, rel_path, source_row)
)
SELECT participant_id,
       md5(string_agg(coalesce(site_id, '') || '@' || coalesce(enrolment_date::VARCHAR, ''),
                      ',' ORDER BY received_at, rel_path, source_row)) AS digest
FROM steps
WHERE nth = 1 OR site_id IS DISTINCT FROM last_site OR enrolment_date IS DISTINCT FROM last_date
GROUP BY participant_id;
