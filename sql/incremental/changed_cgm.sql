-- The participants whose CGM readings changed this night: those of the touched keys.
INSERT INTO work.changed
SELECT DISTINCT 'cgm_readings', participant_id FROM work.touched_keys;
