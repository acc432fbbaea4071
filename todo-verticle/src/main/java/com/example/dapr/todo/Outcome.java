package com.example.dapr.todo;

import io.vertx.core.json.JsonObject;

/**
 * What became of one attempt to deliver a notification or a charge: the answer's part for the client, whether it was
 * delivered, and whether a later attempt (the outbox's) may still deliver it.
 */
record Outcome(JsonObject json, boolean delivered, boolean retryable) {
}
