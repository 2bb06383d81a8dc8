-- The record_status column of core.cgm_readings, every reading 'current' until
-- 01_cgm_overlaps.sql ranks the UTC times given more than once (after validation: nothing
-- before it needs the status of a CGM reading).
ALTER TABLE core.cgm_readings ADD COLUMN IF NOT EXISTS record_status VARCHAR DEFAULT 'current';
