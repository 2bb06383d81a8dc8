-- The summary `make run` prints: one row per participant.
SELECT participant_id AS participant, site_id AS site, dose_group AS dose,
       she_free_d90_365 AS "SHE-free d90-365", round(last_hba1c_pct, 1) AS "last HbA1c %",
       round(tir_day365_pct, 1) AS "TIR d365 %",
       insulin_independent_d180_365 AS "insulin independent",
       round(insulin_dose_change_pct, 0) AS "dose change %", primary_met AS "primary met",
       status
FROM endpoints.participant_summary
ORDER BY participant_id;
