"""The engine: a RunSpec in, a finished run and its report out; it never reads the command line.

Rooms: ``rollout/`` schedules units blind to ONTAP; ``steps/`` are the ONTAP step machines;
``plans`` resolves inventory and secrets into a ``RunPlan``; ``run`` owns a run from the journal's
first row to the written report; ``work`` maps a run kind to its unit work.
"""
