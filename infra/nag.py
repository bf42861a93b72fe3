"""cdk-nag (v3) acknowledgments: one rule or finding per call, always with a written reason.

v3 is a CDK policy-validation plugin: any unacknowledged finding, warning or error, stops synth.
An acknowledgment on a construct covers its whole subtree.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str, *findings: str) -> None:
    """Acknowledge `AwsSolutions-<rule>` on `scope`, or only its listed findings
    (e.g. rule "IAM5", findings "Resource::*") when the rule reports several."""
    if not reason.strip():
        raise ValueError(f"{PACK}-{rule}: an acknowledgment needs a reason")
    ids = [f"{PACK}-{rule}[{f}]" for f in findings] if findings else [f"{PACK}-{rule}"]
    Validations.of(scope).acknowledge(*(Acknowledgment(id=i, reason=reason) for i in ids))
