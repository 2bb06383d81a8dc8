-- (c) A REDCap form left incomplete (<form>_complete 0) or unverified (1) for more than
-- $form_incomplete_days (M) days: the form's current record (as in
-- sql/quality/rules/05_redcap_form_status.sql: the current rows of the core tables) still
-- has that status.
-- since: REDCap's flat export has no date of entry or change, so the day is the one the site's
-- exports show: the day (UTC) the earliest export received since the form last changed
-- came in, where a change is any other status or field value (empty fields left out, so a
-- field added to the form empty is no change) in an export of the same record, event, repeat
-- instrument and instance, received before the current row's export (audit.files
-- .received_at). due: since + M + 1 (more than M days on the reference date).
INSERT INTO quality.missing_data BY NAME
WITH forms AS (  -- each core table's form (the trial file's redcap.forms)
    SELECT DISTINCT form, core_table AS table_name FROM raw.trial_redcap_fields
), current_rows AS (  -- (00_current_records.sql)
    SELECT table_name, source_file_id, source_row FROM _redcap_records
), cur AS (  -- the current records whose form is not complete
    SELECT DISTINCT f.table_name, r.file_id, r.row_number, r.form, r.record_id,
           r.redcap_event_name, r.redcap_repeat_instrument, r.redcap_repeat_instance,
           r.form_complete
    FROM raw.redcap AS r JOIN forms AS f USING (form)
    SEMI JOIN current_rows AS c
           ON c.table_name = f.table_name AND c.source_file_id = r.file_id
          AND c.source_row = r.row_number
    WHERE r.form_complete IN ('0', '1')
), hist AS (  -- every export's row of those records, with a digest of status and values
    SELECT r.file_id, r.row_number, r.form, r.record_id, r.redcap_event_name,
           r.redcap_repeat_instrument, r.redcap_repeat_instance, a.received_at,
           md5(coalesce(r.form_complete, '') || '|' || coalesce(string_agg(
               r.field || '=' || r.value, '|' ORDER BY r.field)
               FILTER (WHERE coalesce(r.value, '') <> ''), '')) AS digest
    FROM raw.redcap AS r
    JOIN audit.files AS a ON a.file_id = r.file_id
    SEMI JOIN cur AS c
           ON c.form = r.form AND c.record_id = r.record_id
          AND c.redcap_event_name IS NOT DISTINCT FROM r.redcap_event_name
          AND c.redcap_repeat_instrument IS NOT DISTINCT FROM r.redcap_repeat_instrument
          AND c.redcap_repeat_instance IS NOT DISTINCT FROM r.redcap_repeat_instance
    GROUP BY r.file_id, r.row_number, r.form, r.record_id, r.redcap_event_name,
             r.redcap_repeat_instrument, r.redcap_repeat_instance, r.form_complete,
             a.received_at
), pairs AS (  -- each current record with every export row of it received up to its own
    SELECT c.*, n.received_at AS cur_received, n.digest AS cur_digest,
           h.received_at, h.digest
    FROM cur AS c
    JOIN hist AS n USING (file_id, row_number, form)
    JOIN hist AS h
      ON h.form = c.form AND h.record_id = c.record_id
     AND h.redcap_event_name IS NOT DISTINCT FROM c.redcap_event_name
     AND h.redcap_repeat_instrument IS NOT DISTINCT FROM c.redcap_repeat_instrument
     AND h.redcap_repeat_instance IS NOT DISTINCT FROM c.redcap_repeat_instance
     AND h.received_at <= n.received_at
), since AS (
    SELECT table_name, file_id, row_number, form, record_id, redcap_event_name,
           redcap_repeat_instance, form_complete,
           min(received_at) FILTER (WHERE digest = cur_digest AND received_at > coalesce(
               last_change, TIMESTAMP '0001-01-01'))::DATE AS since
    FROM (SELECT *, max(received_at) FILTER (WHERE digest <> cur_digest) OVER (
                        PARTITION BY file_id, row_number, form) AS last_change
          FROM pairs)
    GROUP BY ALL
)
SELECT 'form_incomplete_overdue' AS rule, 'warning' AS severity, a.site_id,
       s.record_id AS participant_id, s.table_name, s.file_id AS source_file_id,
       s.row_number AS source_row, s.form || '_complete' AS column_name,
       s.form_complete AS value, s.since, s.since + ($form_incomplete_days + 1)::INTEGER AS due,
       format('form {} of {} (event {}{}) has been {} in REDCap, unchanged, since {}: more '
              || 'than {} days. Please complete or verify it', s.form, s.record_id,
              coalesce(s.redcap_event_name, '(none)'),
              coalesce(', instance ' || s.redcap_repeat_instance, ''),
              CASE s.form_complete WHEN '0' THEN 'incomplete' ELSE 'unverified' END,
              strftime(s.since, '%Y-%m-%d'), $form_incomplete_days) AS message
FROM since AS s JOIN audit.files AS a ON a.file_id = s.file_id
WHERE s.since IS NOT NULL
