-- (a) A participant on study with no CGM reading for more than $cgm_gap_days (N) days.
-- On study: enrolled (the current row of core.participants, with its enrolment date) and not
-- withdrawn (a withdrawal ends what the site collects: never queried), up to the date of a
-- final disposition (the current row of core.disposition: completed or died) or, without
-- one, up to the night's reference date. CGM data owed: with $cgm_windows false every day
-- from enrolment on; with $cgm_windows true only the days of the trial's CGM analysis windows
-- (raw.trial_cgm_windows, study days from the infusion, core.infusions; $infusion_day is the
-- infusion's study day, 0 or 1: days after it are counted from it, days before from day 0).
-- The last reading: the local date of the participant's latest current reading in
-- core.cgm_readings (none: every owed day counts).
-- since: the first owed day after the last reading. due: the reference date on which more than
-- N owed days have passed with no reading (the (N+1)-th owed day; continuous: since + N).
-- No query when the participant's follow-up ended before it was due.
INSERT INTO quality.missing_data BY NAME
WITH onstudy AS (
    SELECT p.participant_id, p.site_id, p.enrolment_date, i.infusion_date, l.last_day,
           CASE WHEN d.status IN ('completed', 'died') THEN d.status END AS ended,
           CASE WHEN d.status IN ('completed', 'died') THEN d.status_date END AS end_date
    FROM core.participants AS p
    LEFT JOIN (SELECT participant_id, status, status_date FROM core.disposition
               WHERE record_status = 'current') AS d USING (participant_id)
    LEFT JOIN (SELECT participant_id, min(infusion_date) AS infusion_date FROM core.infusions
               WHERE record_status = 'current' GROUP BY ALL) AS i USING (participant_id)
    LEFT JOIN (SELECT participant_id, max(timestamp_local)::DATE AS last_day
               FROM core.cgm_readings WHERE record_status = 'current'
               GROUP BY ALL) AS l USING (participant_id)
    WHERE p.record_status = 'current' AND p.enrolment_date IS NOT NULL
      AND d.status IS DISTINCT FROM 'withdrew'
), periods AS (
    -- the periods CGM data are owed in (from enrolment): first and last day (NULL: open)
    SELECT participant_id, enrolment_date AS first_day, NULL::DATE AS last_owed
    FROM onstudy WHERE NOT $cgm_windows
    UNION ALL
    SELECT o.participant_id,
           greatest(o.enrolment_date, o.infusion_date + (w.start_day - CASE WHEN w.start_day > 0
                                                         THEN $infusion_day ELSE 0 END)::INTEGER),
           o.infusion_date + (w.end_day - CASE WHEN w.end_day > 0 THEN $infusion_day ELSE 0 END)
                             ::INTEGER
    FROM onstudy AS o CROSS JOIN raw.trial_cgm_windows AS w
    WHERE $cgm_windows AND o.infusion_date IS NOT NULL
), owed AS (
    -- each period from the day after the last reading on
    SELECT o.*, greatest(pe.first_day, o.last_day + 1) AS from_day, pe.last_owed
    FROM onstudy AS o JOIN periods AS pe USING (participant_id)
), counted AS (
    SELECT *,
           coalesce(sum(last_owed - from_day + 1) OVER (
               PARTITION BY participant_id ORDER BY from_day
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS owed_before,
           min(from_day) OVER (PARTITION BY participant_id) AS since
    FROM owed
    WHERE last_owed IS NULL OR from_day <= last_owed
), due AS (
    -- the period the (N+1)-th owed day falls in
    SELECT *, from_day + ($cgm_gap_days - owed_before)::INTEGER AS due
    FROM counted
    WHERE owed_before <= $cgm_gap_days
      AND (last_owed IS NULL OR from_day + ($cgm_gap_days - owed_before)::INTEGER <= last_owed)
)
SELECT 'cgm_gap' AS rule, 'warning' AS severity, site_id, participant_id,
       'cgm_readings' AS table_name, 'glucose' AS column_name,
       strftime(last_day, '%Y-%m-%d') AS value, since, due,
       format('no CGM reading {}: more than {} days of CGM data missing from {} on{}. Please '
              || 'send the participant''s CGM exports, or say why there are none',
              CASE WHEN last_day IS NULL THEN 'at all'
                   ELSE 'since ' || strftime(last_day, '%Y-%m-%d') END,
              $cgm_gap_days, strftime(since, '%Y-%m-%d'),
              CASE WHEN ended IS NULL THEN ''
                   ELSE ' (the participant ' || ended || ' on ' || strftime(end_date, '%Y-%m-%d')
                        || ')'
              END) AS message
FROM due
-- a final status without its date owes no open-ended data (as for visits, 02_visits.sql)
WHERE ended IS NULL OR due <= end_date
QUALIFY row_number() OVER (PARTITION BY participant_id ORDER BY due) = 1
