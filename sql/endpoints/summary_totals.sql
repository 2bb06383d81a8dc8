-- Trial totals by dose group (the published headline reads off the full-dose row).
SELECT dose_group AS dose,
       count(*) AS participants,
       count(*) FILTER (WHERE she_free_d90_365) AS "SHE-free d90-365",
       count(*) FILTER (WHERE last_hba1c_pct < 7.0) AS "last HbA1c < 7 %",
       count(*) FILTER (WHERE tir_day365_pct > 70.0) AS "TIR d365 > 70 %",
       count(*) FILTER (WHERE insulin_independent_d180_365) AS "insulin independent",
       count(*) FILTER (WHERE NOT insulin_independent_d180_365 AND insulin_dose_change_pct < 0)
           AS "reduced dose",
       count(*) FILTER (WHERE primary_met) AS "primary met",
       count(*) FILTER (WHERE status = 'died') AS died
FROM endpoints.participant_summary
GROUP BY dose_group
ORDER BY dose_group DESC;
