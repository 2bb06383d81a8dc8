-- An infused dose fraction that is none of the trial's arms (raw.trial_arms): a partial
-- infusion or a typing slip. The row is kept and counted in the arm sql/core/02_infusions.sql
-- assigns (the highest arm not above it); the site is asked to confirm the dose.
SELECT 'infusions' AS table_name, i.source_file_id, i.source_row,
       'dose_not_an_arm' AS rule, 'warning' AS severity, 'dose_fraction' AS column_name,
       CAST(i.dose_fraction AS VARCHAR) AS value,
       format('dose fraction {} is none of the arms'' ({}); counted in arm {}: please confirm '
              || 'the dose given', i.dose_fraction,
              (SELECT string_agg(arm_id || ' ' || dose_fraction, ', ' ORDER BY dose_fraction)
               FROM raw.trial_arms), i.dose_group) AS message
FROM core.infusions AS i
WHERE i.dose_fraction > 0 AND i.dose_group IS NOT NULL
  AND i.dose_fraction NOT IN (SELECT dose_fraction FROM raw.trial_arms)
  AND i.dose_fraction < (SELECT max(dose_fraction) FROM raw.trial_arms)  -- above: an error
