-- What the published night was built from, so the next night can tell whether it may start
-- from it (isletflow/build.py plan_night): the pipeline code (sql/, schemas/, the build,
-- quality and endpoint modules, the readers), the trial file, the data cut and site
-- selection, and a digest of the file-level issues. Written by the build (create_build) into
-- work.build_state, made the warehouse's by publish.
CREATE OR REPLACE TABLE audit.build_state AS SELECT * FROM work.build_state;
