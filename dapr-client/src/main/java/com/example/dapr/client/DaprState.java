package com.example.dapr.client;

import com.example.dapr.client.SidecarException.Kind;
import io.vertx.core.Future;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One state store through the sidecar: {@code POST /v1.0/state/{store}} (one item or a bulk), {@code GET
 * /v1.0/state/{store}/{key}} and {@code POST /v1.0/state/{store}/transaction}. The only place that writes Dapr's state
 * JSON. A write with an ETag or first-write concurrency is conditional: the store's refusal of it fails with
 * {@link SidecarException.Kind#REFUSED}, any other error answer with {@link SidecarException.Kind#ERROR_RESPONSE}.
 */
public final class DaprState {

  /** A value read with its ETag (the store's version of it). */
  public record Entry(JsonObject value, String etag) {
  }

  /**
   * One state item: {@code value} under {@code key}, with an {@code etag} or first-write concurrency when conditional,
   * and Dapr's request {@code metadata} ({@code ttlInSeconds}, {@code outbox.projection}, ...).
   */
  public record Item(String key, Object value, String etag, boolean firstWrite, Map<String, String> metadata) {

    public static Item of(String key, Object value) {
      return new Item(key, value, null, false, Map.of());
    }

    /** Saved only if the stored value still has {@code etag} (first-write concurrency with it). */
    public Item ifEtag(String etag) {
      return new Item(key, value, etag, etag != null || firstWrite, metadata);
    }

    /** Saved only if the key has no value yet (first-write concurrency without an ETag). */
    public Item ifAbsent() {
      return new Item(key, value, etag, true, metadata);
    }

    public Item ttlSeconds(long seconds) {
      return seconds > 0 ? with("ttlInSeconds", String.valueOf(seconds)) : this;
    }

    public Item with(String metadataKey, String metadataValue) {
      Map<String, String> more = new LinkedHashMap<>(metadata);
      more.put(metadataKey, metadataValue);
      return new Item(key, value, etag, firstWrite, more);
    }

    /** Whether the store may refuse it: it carries an ETag or first-write concurrency. */
    public boolean conditional() {
      return firstWrite || etag != null;
    }

    JsonObject toJson() {
      JsonObject json = new JsonObject().put("key", key).put("value", value);
      if (etag != null) {
        json.put("etag", etag);
      }
      if (firstWrite) {
        json.put("options", new JsonObject().put("concurrency", "first-write"));
      }
      if (!metadata.isEmpty()) {
        json.put("metadata", new JsonObject(new LinkedHashMap<>(metadata)));
      }
      return json;
    }
  }

  /** One operation of a transaction: an {@code upsert} of an item or a {@code delete} of a key. */
  public record Operation(String operation, Item request) {

    public static Operation upsert(Item item) {
      return new Operation("upsert", item);
    }

    public static Operation delete(String key) {
      return new Operation("delete", Item.of(key, null));
    }

    /** Whether the store may refuse it ({@link Item#conditional()}). */
    public boolean conditional() {
      return request.conditional();
    }

    JsonObject toJson() {
      JsonObject request = operation.equals("delete") ? new JsonObject().put("key", this.request.key())
        : this.request.toJson();
      return new JsonObject().put("operation", operation).put("request", request);
    }
  }

  private final DaprTransport transport;
  private final String store;
  private final String path;
  private final long timeoutMs;

  public DaprState(DaprTransport transport, String store, long timeoutMs) {
    this.transport = transport;
    this.store = store;
    this.path = "/v1.0/state/" + store;
    this.timeoutMs = timeoutMs;
  }

  public String store() {
    return store;
  }

  /** Saves {@code items} in one call (Dapr's bulk save: the store applies each; one refused fails the call). */
  public Future<Void> save(String operation, List<Item> items) {
    Buffer body = new JsonArray(items.stream().map(Item::toJson).toList()).toBuffer();
    boolean conditional = items.stream().anyMatch(Item::conditional);
    return write(operation, path, body, conditional);
  }

  /** {@code operations} in one transaction: all applied or none. */
  public Future<Void> transaction(String operation, List<Operation> operations) {
    Buffer body = new JsonObject().put("operations", new JsonArray(operations.stream().map(Operation::toJson).toList()))
      .toBuffer();
    boolean conditional = operations.stream().anyMatch(Operation::conditional);
    return write(operation, path + "/transaction", body, conditional);
  }

  /** The value of {@code key}, a JSON object, with its ETag, or null when it has none (Dapr answers 204). */
  public Future<Entry> get(String key) {
    String operation = "get state " + key;
    return getValue(key).compose(raw -> {
      if (raw == null) {
        return Future.succeededFuture(null);
      }
      try {
        return Future.succeededFuture(new Entry(raw.value().toJsonObject(), raw.etag()));
      } catch (DecodeException | ClassCastException e) {
        return Future.failedFuture(new SidecarException(Kind.ERROR_RESPONSE, operation, 200, null,
          operation + ": the stored value is not a JSON object", e));
      }
    });
  }

  /** A value as stored, of any JSON type, with its ETag. */
  public record RawEntry(Buffer value, String etag) {
  }

  /** The value of {@code key} as the sidecar answers it, or null when it has none. */
  public Future<RawEntry> getValue(String key) {
    String operation = "get state " + key;
    return transport.send(operation, HttpMethod.GET, path + "/" + key, null, null, timeoutMs)
      .compose(response -> DaprTransport.expectSuccess(operation, response))
      .map(response -> response.statusCode() == 204 || response.body() == null || response.body().length() == 0
        ? null : new RawEntry(response.body(), response.getHeader("ETag")));
  }

  /** Deletes {@code key} (nothing happens when it has no value). */
  public Future<Void> delete(String key) {
    String operation = "delete state " + key;
    return transport.send(operation, HttpMethod.DELETE, path + "/" + key, null, null, timeoutMs)
      .compose(response -> DaprTransport.expectSuccess(operation, response)).mapEmpty();
  }

  private Future<Void> write(String operation, String uri, Buffer body, boolean conditional) {
    return transport.send(operation, HttpMethod.POST, uri, body, null, timeoutMs).compose(response -> {
      int status = response.statusCode();
      if (status / 100 == 2) {
        return Future.succeededFuture();
      }
      SidecarException error = SidecarException.fromResponse(operation, status, response.body());
      return Future.failedFuture(conditional && isRefusal(error) ? error.as(Kind.REFUSED) : error);
    });
  }

  /**
   * A store's refusal: 409 (Dapr's in-memory store, a stale ETag or a taken key), or 500 {@code ERR_STATE_SAVE} /
   * {@code ERR_STATE_TRANSACTION} (Redis, and every store in a transaction), which a failing store answers too.
   */
  private static boolean isRefusal(SidecarException error) {
    return error.status() == 409 || "ERR_STATE_SAVE".equals(error.errorCode())
      || "ERR_STATE_TRANSACTION".equals(error.errorCode());
  }
}
