"""The notification engine: specifications, the durable outbox, batching, delivery, retries."""
