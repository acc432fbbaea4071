package com.example.dapr.todo;

import io.vertx.core.json.JsonObject;

/** A value read from the Dapr state store with its ETag (the store's version of it). */
record StateEntry(JsonObject value, String etag) {
}
