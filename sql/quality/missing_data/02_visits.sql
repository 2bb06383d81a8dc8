-- (b) A scheduled visit past its window with no HbA1c result, or with no record of a visit
-- form dated in its window.
-- Schedule: the trial's visits (raw.trial_visits) of each infused participant (the current
-- row of core.infusions): window from infusion date + window_low to infusion date +
-- window_high in the trial's study days ($infusion_day: the infusion's study day, 0 or 1).
-- Owed: every visit of a participant on study (no disposition, or 'ongoing'); of one who
-- completed, the visits whose window had opened by the completion date (the last visit, or
-- fewer when the study stopped early); of one who died, the visits whose window ended before
-- the death; none of one who withdrew, nor of a final status without its date (as for CGM
-- data, 01_cgm_gap.sql).
-- HbA1c: at the visits $hba1c_visits, a current core.lab_results row of analyte hba1c with a
-- value, labelled with the visit (its lab_visit) or collected in its window.
-- Visit form: at every follow-up visit (nominal day after $infusion_day), a current record
-- of each core table $visit_forms dated in the window (by its date column:
-- isletflow/trial.py VISIT_FORM_DATES).
-- since: the window's last day; due: the day after it.
INSERT INTO quality.missing_data BY NAME
WITH sched AS (
    SELECT p.participant_id, p.site_id, v.visit, v.nominal_day, v.lab_visit,
           i.infusion_date + (v.window_low - CASE WHEN v.window_low > 0 THEN $infusion_day
                                                  ELSE 0 END)::INTEGER AS window_start,
           i.infusion_date + (v.window_high - CASE WHEN v.window_high > 0 THEN $infusion_day
                                                   ELSE 0 END)::INTEGER AS window_end
    FROM core.participants AS p
    JOIN (SELECT participant_id, min(infusion_date) AS infusion_date FROM core.infusions
          WHERE record_status = 'current' AND infusion_date IS NOT NULL
          GROUP BY ALL) AS i USING (participant_id)
    LEFT JOIN (SELECT participant_id, status, status_date FROM core.disposition
               WHERE record_status = 'current') AS d USING (participant_id)
    CROSS JOIN raw.trial_visits AS v
    WHERE p.record_status = 'current'
      AND (d.status IS NULL OR d.status = 'ongoing'
           -- died: the visits whose window ended before the death
           OR (d.status = 'died' AND
               i.infusion_date + (v.window_high - CASE WHEN v.window_high > 0
                                                       THEN $infusion_day ELSE 0 END)::INTEGER
               < d.status_date)
           -- completed (at the last visit, or early when the study stopped): the visits whose
           -- window had opened by the completion date
           OR (d.status = 'completed' AND
               i.infusion_date + (v.window_low - CASE WHEN v.window_low > 0
                                                      THEN $infusion_day ELSE 0 END)::INTEGER
               <= d.status_date))
), dated AS (  -- the current REDCap records (00_current_records.sql)
    SELECT table_name, participant_id, day FROM _redcap_records
), forms AS (  -- each core table's REDCap form (the trial file's redcap.forms)
    SELECT DISTINCT core_table AS table_name, form FROM raw.trial_redcap_fields
)
SELECT 'visit_no_hba1c' AS rule, 'warning' AS severity, s.site_id, s.participant_id,
       'lab_results' AS table_name, 'hba1c' AS column_name, s.visit AS value,
       s.window_end AS since, s.window_end + 1 AS due,
       format('visit {} (window {} to {}) has no HbA1c result from the central lab. Please '
              || 'have it sent, or say why there is none', s.visit,
              strftime(s.window_start, '%Y-%m-%d'), strftime(s.window_end, '%Y-%m-%d'))
           AS message
FROM sched AS s
WHERE list_contains($hba1c_visits::VARCHAR[], s.visit)
  AND NOT EXISTS (SELECT 1 FROM core.lab_results AS l
                  WHERE l.record_status = 'current' AND l.participant_id = s.participant_id
                    AND l.analyte = 'hba1c' AND l.value IS NOT NULL
                    AND (l.visit = s.lab_visit
                         OR l.collection_date BETWEEN s.window_start AND s.window_end))
UNION ALL
SELECT 'visit_no_form', 'warning', s.site_id, s.participant_id, t.table_name,
       coalesce(f.form, t.table_name), s.visit, s.window_end, s.window_end + 1,
       format('visit {} (window {} to {}) has no {} record dated in its window. Please enter '
              || 'it in REDCap, or say why there is none', s.visit,
              strftime(s.window_start, '%Y-%m-%d'), strftime(s.window_end, '%Y-%m-%d'),
              coalesce(f.form, t.table_name))
FROM sched AS s
CROSS JOIN (SELECT unnest($visit_forms::VARCHAR[]) AS table_name) AS t
LEFT JOIN forms AS f USING (table_name)
WHERE s.nominal_day > $infusion_day
  AND NOT EXISTS (SELECT 1 FROM dated AS x
                  WHERE x.table_name = t.table_name AND x.participant_id = s.participant_id
                    AND x.day BETWEEN s.window_start AND s.window_end)
