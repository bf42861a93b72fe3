"""The fraudops CDK app: one stack composed of one construct per domain."""
