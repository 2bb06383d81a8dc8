-- Broken files: a file most of whose rows of one core table fail the same rule has all its rows
-- of that table set aside (set_aside.sql; a whole-project REDCap export keeps its other forms),
-- with ONE file-level query that says what the failing values look
-- like, instead of one query per row (a Clarity export re-saved by Excel: every timestamp
-- M/D/YYYY HH:MM, thousands of rows).
--
-- Broken: for one core table and one error rule, at least $min_rows of the file's rows fail the
-- rule AND they are at least $min_share of the file's rows of that table, counted as harmonised
-- (rows still in core, _file_rows from file_rows.sql, plus those validation already moved to
-- quality.quarantined_rows). Rules about a row's context rather than about how its values are
-- written never make a file broken:
--   unknown_participant, wrong_site: row-level, and said per row (the file may hold others);
--   before_enrolment: an export that starts before enrolment is normal;
--   unknown_analyte: a lab panel has more analytes than the protocol reads;
--   record keys (conflicting or missing records, uniqueness): re-sends, sql/resolve/.
-- Of several broken rules of one file, the one with most failing rows is the query.
--
-- What the values look like, without showing them (no personal data): the shape of a value
-- writes each digit as 9 and each letter as A and keeps the other characters ("1/14/2024 16:42"
-- -> "9/99/9999 99:99"). A known shape (`known`: the first whose pattern, written on shapes,
-- matches in `ord` order) that covers at least half of the failing values names the likely
-- cause; the three commonest shapes are always shown with their counts.
CREATE OR REPLACE TEMP TABLE broken_files AS
WITH failing AS (
    SELECT DISTINCT source_file_id AS file_id, table_name, rule, column_name, source_row,
           coalesce(value, '') AS value
    FROM quality.issues
    WHERE severity = 'error' AND source_row IS NOT NULL AND source_file_id IS NOT NULL
      AND table_name <> '(file)'
      AND rule NOT IN ('unknown_participant', 'wrong_site', 'before_enrolment',
                       'unknown_analyte', 'conflicting_values_in_file',
                       'missing_from_later_export')
      AND rule NOT LIKE '%unique%' AND rule NOT LIKE '%key%'
), sizes AS (
    SELECT file_id, table_name, sum(n_rows) AS n_rows
    FROM (SELECT file_id, table_name, n_rows FROM _file_rows
          UNION ALL
          SELECT source_file_id, table_name, count(DISTINCT source_row)
          FROM quality.quarantined_rows GROUP BY ALL)
    GROUP BY ALL
), per_rule AS (
    SELECT file_id, table_name, rule, mode(column_name) AS column_name,
           count(DISTINCT source_row) AS n_failing
    FROM failing GROUP BY ALL
), broken AS (
    SELECT p.*, s.n_rows
    FROM per_rule AS p JOIN sizes AS s USING (file_id, table_name)
    WHERE p.n_failing >= $min_rows AND p.n_failing >= $min_share * s.n_rows
    QUALIFY row_number() OVER (PARTITION BY file_id ORDER BY n_failing DESC, table_name, rule) = 1
), known(ord, looks_like, pattern, hint) AS (VALUES
    -- pattern: on the shape (9 a digit, A a letter), in full
    (1, 'M/D/YYYY HH:MM', '9{1,2}/9{1,2}/9{4} 9{1,2}:99',
        're-saved by Excel? ask the site for the original export'),
    (2, 'M/D/YYYY h:mm AM/PM', '9{1,2}/9{1,2}/9{4} 9{1,2}:99(:99)? ?A\.?A\.?',
        're-saved by Excel? ask the site for the original export'),
    (3, 'M/D/YY HH:MM', '9{1,2}/9{1,2}/99 9{1,2}:99(:99)?',
        're-saved by Excel (two-digit years)? ask the site for the original export'),
    (4, 'M/D/YYYY HH:MM:SS', '9{1,2}/9{1,2}/9{4} 9{1,2}:99:99',
        're-saved by a spreadsheet? ask the site for the original export'),
    (5, 'DD.MM.YYYY', '9{1,2}\.9{1,2}\.9{2,4}( 9{1,2}:99(:99)?)?',
        'dates written the European way: re-saved by Excel with European settings? ask the '
        || 'site for the original export'),
    (6, 'D/M/YYYY or M/D/YYYY', '9{1,2}/9{1,2}/9{4}',
        'day and month cannot be told apart: re-saved by a spreadsheet? ask the site for the '
        || 'original export'),
    (7, 'YYYY-MM-DD HH:MM without seconds', '9{4}-99-99[ A]9{1,2}:99',
        'the seconds are gone: re-saved by a spreadsheet? ask the site for the original export'),
    (8, 'YYYY/MM/DD', '9{4}/9{1,2}/9{1,2}( 9{1,2}:99(:99)?)?',
        'not the date layout of this export: other software, or re-saved? ask the site for '
        || 'the original export'),
    (9, 'an Excel serial number (99999.9)', '9{5}(\.9+)?',
        'dates turned into Excel serial numbers: re-saved by Excel? ask the site for the '
        || 'original export'),
    (10, '##### (Excel)', '#+',
        'Excel writes ##### where a column is too narrow: re-saved by Excel? ask the site for '
        || 'the original export'),
    (11, 'scientific notation (9.9E+99)', '-?9+(\.9+)?A[+-]?9+',
        'long numbers turned into scientific notation: re-saved by Excel? ask the site for '
        || 'the original export'),
    (12, 'a decimal comma (9,9)', '-?9+,9+',
        'a decimal comma where this file has a decimal point: exported with other regional '
        || 'settings or re-saved? ask the site for the original export'),
    (13, 'words (AAAA)', '[A ]+',
        'words where numbers or dates are expected: another language, or shifted columns? '
        || 'ask the site for the original export'),
    (14, 'empty', '',
        'the column is empty: left out, moved or renamed? ask the site for the original export')
), vals AS (
    SELECT f.file_id, f.value,
           regexp_replace(regexp_replace(f.value, '[0-9]', '9', 'g'), '\p{L}', 'A', 'g') AS shape
    FROM failing AS f SEMI JOIN broken AS b USING (file_id, table_name, rule)
), shapes AS (
    SELECT file_id, shape, count(*) AS n, sum(count(*)) OVER (PARTITION BY file_id) AS n_values
    FROM vals GROUP BY file_id, shape
), top_shapes AS (
    SELECT file_id, any_value(n_values) AS n_values,
           string_agg(CASE WHEN shape = '' THEN '(empty)'
                           WHEN length(shape) > 30 THEN left(shape, 30) || '...'
                           ELSE shape END || ' in ' || format('{:,}', n) || ' rows',
                      ', ' ORDER BY n DESC, shape) AS shapes,
           first(shape ORDER BY n DESC, shape) AS top_shape
    FROM (SELECT * FROM shapes
          QUALIFY row_number() OVER (PARTITION BY file_id ORDER BY n DESC, shape) <= 3)
    GROUP BY file_id
), matched AS (
    -- one known shape per shape of value: the first whose pattern it matches
    SELECT file_id, n,
           (SELECT min(ord) FROM known AS k WHERE regexp_full_match(s.shape, k.pattern)) AS ord
    FROM shapes AS s
), known_best AS (
    SELECT m.file_id, k.ord, any_value(k.looks_like) AS looks_like, any_value(k.hint) AS hint,
           sum(m.n) AS n
    FROM matched AS m JOIN known AS k USING (ord)
    GROUP BY m.file_id, k.ord
    QUALIFY row_number() OVER (PARTITION BY m.file_id ORDER BY sum(m.n) DESC, k.ord) = 1
)
SELECT b.file_id, b.table_name, b.rule, b.column_name, b.n_failing, b.n_rows,
       coalesce(kb.looks_like, t.top_shape) AS looks_like,
       format('{:,} of {:,} {} rows fail {}: {} values look like {} ({}): {}. The file''s {} '
              || 'rows are set aside: none of them is loaded',
              b.n_failing, b.n_rows, b.table_name, b.rule, coalesce(b.column_name, 'the'),
              coalesce(kb.looks_like, t.top_shape), t.shapes,
              coalesce(kb.hint, 'digits are shown as 9 and letters as A: ask the site how the '
                                || 'file was made and for the original export'),
              b.table_name) AS message
FROM broken AS b
JOIN top_shapes AS t USING (file_id)
LEFT JOIN known_best AS kb ON kb.file_id = b.file_id AND 2 * kb.n >= t.n_values
ORDER BY b.file_id;
INSERT INTO quality.quarantined_files
SELECT file_id, 'broken_file', message FROM broken_files ORDER BY file_id;
INSERT INTO quality.issues BY NAME
SELECT '(file)' AS table_name, file_id AS source_file_id, 'broken_file' AS rule,
       'error' AS severity, column_name, looks_like AS value, message
FROM broken_files ORDER BY file_id;
