"""Data contracts: pandera models for every core table and Great Expectations suites."""
