package com.example.dapr.todo;

import com.example.dapr.client.SidecarException;
import com.example.dapr.http.ApiException;
import io.vertx.core.json.JsonObject;

import java.util.Map;
import java.util.logging.Logger;

/**
 * The one place where a failed sidecar call becomes todo-api's answer: an open circuit 503 with {@code Retry-After},
 * a timeout 504, an unreachable sidecar or a sidecar error 502, always with Dapr's error code when there is one.
 */
final class SidecarErrors {

  private static final Logger LOG = Logger.getLogger(SidecarErrors.class.getName());

  private SidecarErrors() {
  }

  /** The API error for {@code failure}, or null when it is not a sidecar failure. */
  static ApiException toApi(Throwable failure, long breakerResetMs) {
    if (!(failure instanceof SidecarException e)) {
      return null;
    }
    LOG.warning(e::getMessage);
    Map<String, String> headers = e.kind() == SidecarException.Kind.CIRCUIT_OPEN
      ? Map.of("Retry-After", String.valueOf(Math.max(1, (breakerResetMs + 999) / 1000)))
      : Map.of();
    return new ApiException(httpStatus(e.kind()), errorName(e.kind()), e.getMessage(), e.daprFields(), headers, e);
  }

  /** {@code {"error", "message"}} and Dapr's code and status if any: how todo-api reports {@code e} in its JSON. */
  static JsonObject toJson(SidecarException e) {
    return new JsonObject().put("error", errorName(e.kind())).put("message", e.getMessage()).mergeIn(e.daprFields());
  }

  static int httpStatus(SidecarException.Kind kind) {
    return switch (kind) {
      case CIRCUIT_OPEN -> 503;
      case TIMEOUT -> 504;
      case UNREACHABLE, REFUSED, ERROR_RESPONSE -> 502;
    };
  }

  /** A refused conditional write that reaches a client is a store failing (a real refusal is answered 409 or 412). */
  static String errorName(SidecarException.Kind kind) {
    return switch (kind) {
      case CIRCUIT_OPEN -> "CIRCUIT_OPEN";
      case TIMEOUT -> "SIDECAR_TIMEOUT";
      case UNREACHABLE -> "SIDECAR_UNREACHABLE";
      case REFUSED, ERROR_RESPONSE -> "SIDECAR_ERROR";
    };
  }
}
