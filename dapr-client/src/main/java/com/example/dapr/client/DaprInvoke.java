package com.example.dapr.client;

import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * Service invocation of one app's method through the sidecar, {@code POST /v1.0/invoke/{app}/method/{method}}, or,
 * in {@link Form#HEADER}, {@code POST /{method}} with the {@code dapr-app-id} header (Dapr's HTTP proxy form). An
 * answer that is not 2xx fails with Dapr's error, or with the app's own when it answered one.
 */
public final class DaprInvoke {

  /** How the target is named. */
  public enum Form {
    PATH,
    HEADER
  }

  private final DaprTransport transport;
  private final String operation;
  private final String uri;
  private final MultiMap headers;
  private final long timeoutMs;

  public DaprInvoke(DaprTransport transport, String appId, String method, Form form, long timeoutMs) {
    this.transport = transport;
    this.operation = "invoke " + appId + "/" + method;
    this.uri = form == Form.PATH ? "/v1.0/invoke/" + appId + "/method/" + method : "/" + method;
    this.headers = form == Form.HEADER ? MultiMap.caseInsensitiveMultiMap().add("dapr-app-id", appId) : null;
    this.timeoutMs = timeoutMs;
  }

  /** What a failure of this call names, such as {@code invoke notification-service/notify}. */
  public String operation() {
    return operation;
  }

  /** Sends {@code body} once; answers the app's JSON object (empty when it sent no body; {@code raw} if not JSON). */
  public Future<JsonObject> post(JsonObject body) {
    Buffer payload = body.toBuffer();
    return transport.send(operation, HttpMethod.POST, uri, payload, headers, timeoutMs)
      .compose(response -> DaprTransport.expectSuccess(operation, response))
      .map(response -> {
        Buffer answer = response.body();
        if (answer == null || answer.length() == 0) {
          return new JsonObject();
        }
        try {
          return answer.toJsonObject();
        } catch (DecodeException | ClassCastException notAnObject) {
          return new JsonObject().put("raw", answer.toString());
        }
      });
  }
}
