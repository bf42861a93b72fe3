"""The AWS adapters: the only modules of the layer that import boto3 or botocore. Each
implements a port the domain defines (``lake.store``, ``ingestion.records``, ``ingestion.batch``,
``lake.snapshots``, ``training.artifacts``, ``registry.models``)."""
