-- The summary `make run` prints: one row per participant (SHE-free over the primary
-- endpoint's days, TIR in the trial's summary CGM window, insulin independence over its days).
SELECT participant_id AS participant, site_id AS site, dose_group AS dose,
       she_free AS "SHE-free", round(last_hba1c_pct, 1) AS "last HbA1c %",
       round(tir_pct, 1) AS "TIR %",
       insulin_independent AS "insulin independent",
       round(insulin_dose_change_pct, 0) AS "dose change %", primary_met AS "primary met",
       status
FROM endpoints.participant_summary
ORDER BY participant_id;
