-- A file-level warning that a site's every export repeats (the same fields the trial does not
-- collect, or the same trial field dropped as personal data, sent again in each weekly export)
-- is listed once: on the first file that gave it
-- (received first, then by path), saying that later exports repeat it. A different message
-- (another set of fields) is a new warning.
CREATE OR REPLACE TEMP TABLE _repeated AS
SELECT i.rowid AS issue_rowid,
       row_number() OVER w AS nth, count(*) OVER (PARTITION BY f.site_id, i.rule, i.message) AS n
FROM quality.issues AS i JOIN audit.files AS f ON f.file_id = i.source_file_id
WHERE i.rule IN ('redcap_fields_not_collected', 'redcap_trial_field_dropped') AND i.source_row IS NULL
WINDOW w AS (PARTITION BY f.site_id, i.rule, i.message ORDER BY f.received_at, f.rel_path);
UPDATE quality.issues AS i
SET message = i.message || format(' (the same in the site''s {:,} later export(s))', r.n - 1)
FROM _repeated AS r
WHERE i.rowid = r.issue_rowid AND r.nth = 1 AND r.n > 1;
DELETE FROM quality.issues
WHERE rowid IN (SELECT issue_rowid FROM _repeated WHERE nth > 1);
DROP TABLE _repeated;
