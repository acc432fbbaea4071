package com.example.dapr.http;

import io.vertx.core.json.JsonObject;

import java.util.Map;

/** A failure that already knows the HTTP status and JSON error body it must become. */
public class ApiException extends RuntimeException {

  private final int status;
  private final String error;
  private final JsonObject details;
  private final Map<String, String> headers;

  public ApiException(int status, String error, String message) {
    this(status, error, message, null, Map.of(), null);
  }

  public ApiException(int status, String error, String message, JsonObject details,
                      Map<String, String> headers, Throwable cause) {
    super(message, cause, false, false);
    this.status = status;
    this.error = error;
    this.details = details;
    this.headers = Map.copyOf(headers);
  }

  public static ApiException badRequest(String error, String message) {
    return new ApiException(400, error, message);
  }

  public int status() {
    return status;
  }

  /** A stable, machine-readable code such as {@code INVALID_TITLE} or {@code SIDECAR_TIMEOUT}. */
  public String error() {
    return error;
  }

  /** Extra fields merged into the JSON body, for example {@code dapr_error_code}; may be null. */
  public JsonObject details() {
    return details;
  }

  public Map<String, String> headers() {
    return headers;
  }

  public JsonObject toJson() {
    JsonObject body = new JsonObject().put("error", error).put("message", getMessage());
    if (details != null) {
      body.mergeIn(details);
    }
    return body;
  }
}
