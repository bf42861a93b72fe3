"""What every function shares at run time: settings (every environment name, lake prefix and
limit, defined once) and observability (Powertools Logger, Tracer, Metrics)."""
