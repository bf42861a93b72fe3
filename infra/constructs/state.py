"""The state table: everything the pipeline must remember between invocations, in one table.

Single-table key design (`pk` / `sk`, both strings). Each item kind has its own `pk` prefix, so
kinds never collide and a `dynamodb:LeadingKeys` condition can fence each function in:

* file claim — `FILE#<sha256>` / `CLAIM#<contract>`, ingest_batch: PutItem (conditional claim),
  GetItem (read a claim), UpdateItem (complete it, in the transaction that adds the counters),
  DeleteItem (release a failed claim);
* transaction claim — `TXN#<contract>#<unique key>` / `CLAIM`, ingest_stream: PutItem, first
  writer wins (a second delivery is quarantined as a duplicate);
* commit mark — `SEQ#<shard>:<sequence>` / `COMMITTED`, ingest_stream and the dead-letter path:
  PutItem in the commit transaction, BatchGetItem to skip committed records; TTL `expires_at`
  (8 days, longer than the stream can re-deliver), except the first mark of each commit group,
  which snapshots use to tell a committed manifest from an orphan;
* snapshot — `SNAPSHOT#<contract>` / `<created_at>#<snapshot_id>`, written by `fraudops snapshot`;
* accounting — `ACCOUNT#<contract>#<source>` / `COUNTS`, both ingestion paths: UpdateItem `ADD`
  only, inside the same transaction that commits the outputs;
* model registry — `MODEL#<contract>` / `V#<version>`, `COUNTER`, `CHAMPION`, and
  `TRAINRUN#<contract>` / `<run id>` (fraudops_shared.aws.model_registry).

Accounting: `source` is `s3` (batch) or `kinesis` (stream); counters are numbers, created by the
first `ADD`: `in_records`, `curated`, `quarantined`, `dead_lettered`. Invariant, per item:
`in_records == curated + quarantined + dead_lettered`. Counters only ever change inside the
transaction that also marks their inputs done (file claim completed, Kinesis records marked
committed), so a retry cannot count twice; reading them all is one Scan of `ACCOUNT#` items
(`fraudops status`), or a GetItem per contract and source. Why one table: the counters move in
the same transaction as the claims and commit marks; a transaction could span two tables, but
one table keeps grants, backups (PITR) and the key scheme in one place, and the items are few
(contracts x sources). A hot counter item takes ~1,000 writes/s: one commit per stream batch or
file, far below that.
"""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra import constants as c
from infra.stage import StageConfig


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
