"""Endpoint derivations: pure polars functions, one per file, dataset in -> dataset out.

Day 0 is the infusion day (``core.infusions.infusion_date``). No function here opens a
database or knows about Prefect; tasks read the core tables and pass frames in.
"""
