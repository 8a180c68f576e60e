"""The blind scheduler: units in, outcomes out; concurrency, waves, budgets, window, label limits.

Nothing here knows ONTAP: a unit is a name and its clusters, an outcome is a word.
"""
