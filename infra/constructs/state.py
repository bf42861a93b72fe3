"""The state table: everything the pipeline must remember between invocations, in one table.

Single-table key design (`pk` / `sk`, both strings). Each item kind has its own `pk` prefix
(`fraudops_shared.runtime.settings.PK_*`), so kinds never collide and every function's policy
names the prefixes it may touch (`grant_items`: a `dynamodb:LeadingKeys` condition):

* file claim — `FILE#<sha256>` / `CLAIM#<contract>`, ingest_batch and the dead-letter path:
  PutItem (conditional claim), GetItem, DeleteItem (release), UpdateItem (completed by the commit);
* commit — `COMMIT#<id>` / `COMMIT` (what a commit staged, its manifest, promoted or not),
  `COMMITTED#<contract>` / `<manifest key>` (what snapshots list), `CHECKPOINT#<stream>#<shard>`
  / `CHECKPOINT` (a shard's last committed sequence number), `SHARDLOG#<stream>#<shard>` /
  `<first sequence>` (each stream commit's range, TTL 8 days): all written in the commit's one
  transaction (fraudops_shared.aws.commit_log);
* dedupe index — `KEYS#<contract>#<event day>` / `HEAD` (a version every commit of the day
  bumps) and `P#<page id>` (sorted 64-bit key hashes of one commit); TTL: the contract's maximum
  event age plus a margin;
* snapshot — `SNAPSHOT#<contract>` / `<created_at>#<snapshot_id>`, written by `fraudops snapshot`;
* accounting — `ACCOUNT#<contract>#<source>` / `COUNTS`, both ingestion paths: UpdateItem `ADD`
  only, inside the same transaction that commits the outputs;
* model registry — `MODEL#<contract>` / `V#<version>`, `COUNTER`, `CHAMPION`, and
  `TRAINRUN#<contract>` / `<run id>` (fraudops_shared.aws.model_registry).

Accounting: `source` is `s3` (batch) or `kinesis` (stream); counters are numbers, created by the
first `ADD`: `in_records`, `curated`, `quarantined`, `dead_lettered`, `expired_unrecoverable`.
Invariant, per item: `in_records == curated + quarantined + dead_lettered + expired_unrecoverable`.
Counters only ever change inside the transaction that also marks their inputs done (file claim
completed, a shard's checkpoint moved, a dead-letter commit recorded), so a retry cannot count
twice; reading them all is one Scan of `ACCOUNT#` items
(`fraudops status`), or a GetItem per contract and source. Why one table: the counters move in
the same transaction as the claims and commit marks; a transaction could span two tables, but
one table keeps grants, backups (PITR) and the key scheme in one place, and the items are few
(contracts x sources). A hot counter item takes ~1,000 writes/s: one commit per stream batch or
file, far below that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import constants as c
from infra.stage import StageConfig


def grant_items(
    grantee: Any, table: dynamodb.ITable, actions: Sequence[str], leading_keys: Sequence[str]
) -> None:
    """Item actions on the state table, fenced to the items whose partition key starts with one
    of ``leading_keys`` (DynamoDB's LeadingKeys condition): a function cannot touch another
    kind's items, the champion pointer included. Transactions need each item's own action."""
    grantee.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=list(actions),
            resources=[table.table_arn],
            conditions={
                "ForAllValues:StringLike": {
                    "dynamodb:LeadingKeys": [f"{prefix}*" for prefix in leading_keys]
                }
            },
        )
    )


class StateTable(Construct):
    """Single-table design on a generic `pk`/`sk` key so new item kinds need no new table.
    AWS-managed encryption: callers need no key grants, and the key stays in DynamoDB's custody.
    """

    def __init__(self, scope: Construct, construct_id: str, *, stage: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(
                name=c.TABLE_PARTITION_KEY, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=c.TABLE_SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=c.TABLE_TTL_ATTRIBUTE,
            removal_policy=stage.removal_policy,
        )
