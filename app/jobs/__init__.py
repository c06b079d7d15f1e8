"""Background work: the worker loop, the scheduler of periodic sweeps, the job handlers."""
