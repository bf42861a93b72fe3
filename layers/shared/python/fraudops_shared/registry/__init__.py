"""The model registry: versions, the champion pointer and training runs, over a store port
(the DynamoDB store is `fraudops_shared.aws.model_registry`)."""
