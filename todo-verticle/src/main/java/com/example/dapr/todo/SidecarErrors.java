package com.example.dapr.todo;

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
    JsonObject details = e.toJson();
    details.remove("error");
    details.remove("message");
    Map<String, String> headers = e.kind() == SidecarException.Kind.CIRCUIT_OPEN
      ? Map.of("Retry-After", String.valueOf(Math.max(1, (breakerResetMs + 999) / 1000)))
      : Map.of();
    return new ApiException(e.kind().httpStatus, e.kind().errorName, e.getMessage(), details, headers, e);
  }
}
