"""Experiments: whole protocols (several trainings, then evaluation and a report) as plain functions."""
