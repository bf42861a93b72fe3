"""Asynchronous invocations survive a function update, as on AWS.

LocalStack queues ``InvocationType=Event`` invocations (S3 notifications, EventBridge targets,
direct async invokes) in an internal SQS queue per function version, read by a poller with
2-second long polls. When the function's configuration or code is updated, the old poller is
stopped while the new one starts on the same queue; a message the old poller received during its
last long poll is dropped on the floor and stays invisible for the queue's visibility timeout
(the function timeout + 60 s: 16 minutes for a 15-minute function). Measured on 2026.3.0: an
S3 object landed within ~3 s after ``UpdateFunctionConfiguration`` was not processed for that
long, while AWS delivers it to the new configuration.

Here the poller hands such messages back to the queue (visibility 0), so the new poller takes
them at once. The loop is LocalStack's own (``event_manager.Poller.run``) with that one change.
"""

from __future__ import annotations

import logging
import time
from typing import Any

LOG = logging.getLogger(__name__)


def install() -> None:
    from localstack.services.lambda_.invocation import event_manager

    poller_cls = event_manager.Poller

    def run(self: Any, *args: Any, **kwargs: Any) -> None:
        sqs_client = event_manager.get_sqs_client(
            self.version_manager.function_version, client_config=event_manager.CLIENT_CONFIG
        )
        function_timeout = self.version_manager.function_version.config.timeout
        while not self._shutdown_event.is_set():
            try:
                response = sqs_client.receive_message(
                    QueueUrl=self.event_queue_url,
                    WaitTimeSeconds=2,
                    MaxNumberOfMessages=10,
                    VisibilityTimeout=function_timeout + 60,
                )
                messages = response.get("Messages") or []
                if not messages:
                    continue
                if self._shutdown_event.is_set():  # stopped mid-poll: the next poller takes them
                    _hand_back(sqs_client, self.event_queue_url, messages)
                    return
                for message in messages:
                    self.invoker_pool.submit(self.handle_message, message)
            except Exception as err:  # as LocalStack's loop: quiet after shutdown, else log, retry
                if self._shutdown_event.is_set():
                    return
                LOG.error("Error while polling lambda events: %s", err)
                time.sleep(1)

    poller_cls.run = run


def _hand_back(sqs_client: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Visible again at once. The internal queue's client (``FakeSqsClient``) has no
    ChangeMessageVisibility, so the queue object is asked directly."""
    queue = sqs_client.queue_manager.get_queue(queue_name=queue_url)
    for message in messages:
        try:
            queue.update_visibility_timeout(message["ReceiptHandle"], 0)
        except Exception:  # never worse than LocalStack's own behaviour: it becomes visible later
            LOG.exception("could not hand event %s back to %s", message.get("MessageId"), queue_url)
    LOG.info("handed %d event(s) taken while stopping back to %s", len(messages), queue_url)
    LOG.info("async events: the poller hands back events it took while stopping")
