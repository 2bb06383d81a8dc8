-- Adverse event form (MedDRA preferred term and system organ class, seriousness, CTCAE grade).
-- A repeating form: its record identity is (record, event, repeat instance); see sql/resolve/.
CREATE OR REPLACE TABLE core.adverse_events AS
WITH a AS (
    SELECT file_id, row_number, record_id, redcap_event_name, redcap_repeat_instance,
           max(value) FILTER (WHERE field = 'ae_term')       AS ae_term,
           max(value) FILTER (WHERE field = 'ae_soc')        AS ae_soc,
           max(value) FILTER (WHERE field = 'ae_onset_date') AS ae_onset_date,
           max(value) FILTER (WHERE field = 'ae_serious')    AS ae_serious,
           max(value) FILTER (WHERE field = 'ae_grade')      AS ae_grade,
           max(value) FILTER (WHERE field = 'ae_outcome')    AS ae_outcome
    FROM raw.redcap WHERE form = 'adverse_events'
    GROUP BY ALL
)
SELECT record_id                                     AS participant_id,
       ae_term                                       AS preferred_term,
       ae_soc                                        AS system_organ_class,
       TRY_STRPTIME(ae_onset_date, '%Y-%m-%d')::DATE AS onset_date,
       ae_serious = '1'                              AS serious,
       TRY_CAST(ae_grade AS INTEGER)                 AS ctcae_grade,
       CASE ae_outcome WHEN '1' THEN 'recovered' WHEN '2' THEN 'recovering'
                       WHEN '3' THEN 'not recovered' WHEN '4' THEN 'fatal' END AS outcome,
       redcap_event_name                          AS event_name,
       TRY_CAST(redcap_repeat_instance AS INTEGER) AS instance,
       file_id AS source_file_id, row_number AS source_row
FROM a
ORDER BY participant_id, onset_date, source_file_id, source_row;
