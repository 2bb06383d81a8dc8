-- Trial totals by dose group, lowest dose first (the published headline reads off the
-- full-dose row). The HbA1c target is the primary endpoint's (the trial file's
-- endpoints.primary.hba1c_below_pct); TIR > 70 % is the International Consensus target
-- (Battelino et al., Diabetes Care 2019).
SELECT s.dose_group AS dose,
       count(*) AS participants,
       count(*) FILTER (WHERE she_free) AS "SHE-free",
       count(*) FILTER (WHERE last_hba1c_pct < (
           SELECT TRY_CAST(value AS DOUBLE) FROM raw.trial_parameters
           WHERE name = 'endpoints.primary.hba1c_below_pct')) AS "last HbA1c < target",
       count(*) FILTER (WHERE tir_pct > 70.0) AS "TIR > 70 %",
       count(*) FILTER (WHERE insulin_independent) AS "insulin independent",
       count(*) FILTER (WHERE NOT insulin_independent AND insulin_dose_change_pct < 0)
           AS "reduced dose",
       count(*) FILTER (WHERE primary_met) AS "primary met",
       count(*) FILTER (WHERE status = 'died') AS died
FROM endpoints.participant_summary AS s
LEFT JOIN raw.trial_arms AS a ON a.arm_id = s.dose_group
GROUP BY s.dose_group, a.dose_fraction
ORDER BY a.dose_fraction NULLS LAST, s.dose_group;
