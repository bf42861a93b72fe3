"""Monitoring: the stage after scoring. Labels arriving late, live model quality on them, and
drift of the live features and scores against the baseline a model version stored at training."""
