"""The data lake: zones and keys (`zones`), the object store port (`store`), writing curated,
quarantined and manifest objects (`writer`), and snapshots of committed data (`snapshots`:
selection, `snapshot_store`: I/O over ports)."""
