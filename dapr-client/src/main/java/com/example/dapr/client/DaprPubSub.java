package com.example.dapr.client;

import io.vertx.core.Future;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.List;

/**
 * One pub/sub component through the sidecar: {@code POST /v1.0/publish/{pubsub}/{topic}}, Dapr's bulk publish
 * {@code POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}}, and the subscriber's side of the wire: the entries of
 * {@code GET /dapr/subscribe} and the statuses an event is answered with.
 */
public final class DaprPubSub {

  /** An event's status in a subscriber's answer: done, offer it again later, or give it up. */
  public enum Status {
    SUCCESS,
    RETRY,
    DROP
  }

  private final DaprTransport transport;
  private final String pubsub;
  private final long timeoutMs;

  public DaprPubSub(DaprTransport transport, String pubsub, long timeoutMs) {
    this.transport = transport;
    this.pubsub = pubsub;
    this.timeoutMs = timeoutMs;
  }

  /** Publishes {@code data} as the data of a JSON CloudEvent, once. */
  public Future<Void> publish(String topic, JsonObject data) {
    String operation = "publish " + pubsub + "/" + topic;
    return transport.send(operation, HttpMethod.POST, "/v1.0/publish/" + pubsub + "/" + topic, data.toBuffer(), null,
        timeoutMs)
      .compose(response -> DaprTransport.expectSuccess(operation, response)).mapEmpty();
  }

  /**
   * Publishes every one of {@code events} in one call. Dapr answers 204 when all were published, else 500 with the
   * entries it failed ({@code failedEntries}); this fails then, and the caller publishes those again.
   */
  public Future<Void> publishBulk(String topic, List<JsonObject> events) {
    String operation = "bulk publish " + events.size() + " to " + pubsub + "/" + topic;
    JsonArray entries = new JsonArray();
    for (int i = 0; i < events.size(); i++) {
      entries.add(new JsonObject().put("entryId", String.valueOf(i)).put("event", events.get(i))
        .put("contentType", "application/json"));
    }
    return transport.send(operation, HttpMethod.POST, "/v1.0-alpha1/publish/bulk/" + pubsub + "/" + topic,
        entries.toBuffer(), null, timeoutMs)
      .compose(response -> DaprTransport.expectSuccess(operation, response)).mapEmpty();
  }

  /**
   * A subscription of {@code GET /dapr/subscribe}: {@code topic} to {@code route}, failed events to {@code
   * deadLetterTopic} (null: none), and Dapr's bulk subscribe when {@code bulkMax} > 1: up to {@code bulkMax} events a
   * call, an event waiting at most {@code bulkAwaitMs} for others.
   */
  public JsonObject subscription(String topic, String route, String deadLetterTopic, int bulkMax, long bulkAwaitMs) {
    JsonObject json = new JsonObject().put("pubsubname", pubsub).put("topic", topic).put("route", route);
    if (deadLetterTopic != null) {
      json.put("deadLetterTopic", deadLetterTopic);
    }
    if (bulkMax > 1) {
      json.put("bulkSubscribe", new JsonObject().put("enabled", true).put("maxMessagesCount", bulkMax)
        .put("maxAwaitDurationMs", bulkAwaitMs));
    }
    return json;
  }

  /** The answer to one event: {@code {"status": ...}}. */
  public static JsonObject answer(Status status) {
    return new JsonObject().put("status", status.name());
  }

  /** One entry of the answer to a bulk: {@code {"entryId": ..., "status": ...}}. */
  public static JsonObject bulkEntry(String entryId, Status status) {
    return new JsonObject().put("entryId", entryId).put("status", status.name());
  }
}
