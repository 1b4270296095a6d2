"""Exercises: a scenario with a goal matrix, a policy the student edits, hints and grading.

model (plain data) <- load (exercise folders) -> grade (the engine, cell by cell) -> cli.
"""
