"""fraudops: the command line and the host-LocalStack launcher.

The CDK app lives in ``infra/``, Lambda code in ``functions/`` and ``layers/``; this package is
what a user runs on their machine (``fraudops up|down|status|deploy|demo``).
"""

__version__ = "0.1.0"
