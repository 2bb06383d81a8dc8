"""Endpoint derivations: pure polars functions, one per file, dataset in -> dataset out.

Study days count from the infusion day (``core.infusions.infusion_date``: day 0, or day 1 in
a trial whose ``study_day_convention`` is day1; endpoints/study_day.py). No function here opens a
database or knows about Prefect; tasks read the core tables and pass frames in.
"""
