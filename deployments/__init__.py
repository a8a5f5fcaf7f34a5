"""Entry points: the ``floor`` command, and how the flows are deployed and served."""
