-- Rows of the published warehouse set aside as dated after its reference time
-- (sql/quality/rules/03_time_plausibility.sql): how many.
SELECT count(*) FROM quality.issues WHERE rule = 'future_timestamp'
