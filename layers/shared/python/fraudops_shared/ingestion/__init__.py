"""Ingestion: landed files (`readers`, `batch`, `claims`) and Kinesis records (`records`,
`stream`, `kpl`) validated against their contract, dead letters read back (`dead_letters`) and
curated transactions forwarded to scoring (`scoring_feed`)."""
