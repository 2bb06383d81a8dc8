-- Append the issues registered by the caller as _issues.
INSERT INTO quality.issues BY NAME SELECT * FROM _issues;
