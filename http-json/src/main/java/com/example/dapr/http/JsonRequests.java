package com.example.dapr.http;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.RoutingContext;

/** Reads a request body as one JSON object, failing with the 4xx a client can act on. */
public final class JsonRequests {

  private JsonRequests() {
  }

  /**
   * The body as a JSON object.
   *
   * @throws ApiException 415 when the content type is not JSON, 400 when the body is empty, not JSON,
   *                      or JSON that is not an object
   */
  public static JsonObject object(RoutingContext ctx) {
    String contentType = ctx.request().getHeader("Content-Type");
    if (!isJson(contentType)) {
      throw new ApiException(415, "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be application/json, got " + (contentType == null ? "none" : "'" + contentType + "'"));
    }
    Buffer body = ctx.body().buffer();
    if (body == null || body.length() == 0) {
      throw ApiException.badRequest("EMPTY_BODY", "the request body is empty; send a JSON object");
    }
    Object parsed;
    try {
      parsed = Json.decodeValue(body);
    } catch (DecodeException e) {
      throw ApiException.badRequest("MALFORMED_JSON", "the request body is not valid JSON");
    }
    if (!(parsed instanceof JsonObject object)) {
      throw ApiException.badRequest("NOT_AN_OBJECT", "the request body must be a JSON object");
    }
    return object;
  }

  /**
   * A required string field: present, a JSON string, not blank after trimming, at most {@code maxLength} characters.
   *
   * @return the trimmed value
   */
  public static String requiredString(JsonObject body, String field, int maxLength) {
    Object value = body.getValue(field);
    if (value == null) {
      throw ApiException.badRequest("MISSING_FIELD", "'" + field + "' is required");
    }
    return checkedString(field, value, maxLength);
  }

  /** An optional string field: absent or null gives null; otherwise checked as {@link #requiredString}. */
  public static String optionalString(JsonObject body, String field, int maxLength) {
    Object value = body.getValue(field);
    return value == null ? null : checkedString(field, value, maxLength);
  }

  private static String checkedString(String field, Object value, int maxLength) {
    if (!(value instanceof String text)) {
      throw ApiException.badRequest("INVALID_FIELD", "'" + field + "' must be a string");
    }
    String trimmed = text.strip();
    if (trimmed.isEmpty()) {
      throw ApiException.badRequest("INVALID_FIELD", "'" + field + "' must not be blank");
    }
    if (trimmed.length() > maxLength) {
      throw ApiException.badRequest("INVALID_FIELD",
        "'" + field + "' must be at most " + maxLength + " characters");
    }
    return trimmed;
  }

  static boolean isJson(String contentType) {
    if (contentType == null) {
      return false;
    }
    int semicolon = contentType.indexOf(';');
    String mime = (semicolon < 0 ? contentType : contentType.substring(0, semicolon)).strip().toLowerCase();
    return mime.equals("application/json") || (mime.startsWith("application/") && mime.endsWith("+json"));
  }
}
