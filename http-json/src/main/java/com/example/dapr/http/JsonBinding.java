package com.example.dapr.http;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.PropertyAccessor;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonObject;
import io.vertx.core.json.jackson.VertxModule;
import io.vertx.ext.web.RoutingContext;

import java.io.IOException;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The services' one {@link ObjectMapper}, configured once, and the one place where jackson-databind's exceptions become
 * the 400s a client can act on. Records bind strictly: an unknown field, a duplicate key, a value of the wrong JSON type
 * (no {@code "1"} for a number, no {@code 1} for a string, no {@code 1.5} for an integer, no {@code null} for a
 * primitive) and anything after the object are refused; names are snake_case on the wire, and nulls are left out of
 * what is written.
 * <p>
 * It is a mapper of its own rather than Vert.x's {@code DatabindCodec.mapper()}: that one also parses every
 * {@code JsonObject} in the process (Dapr's answers and events), which should stay as lenient as they were.
 */
public final class JsonBinding {

  public static final ObjectMapper MAPPER = JsonMapper.builder()
    .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
    .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES,
      DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
    .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
    .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
    .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
    .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
    .serializationInclusion(JsonInclude.Include.NON_NULL)
    // Records: their components and nothing else (no isCompleted() as a "completed" property).
    .visibility(PropertyAccessor.ALL, JsonAutoDetect.Visibility.NONE)
    .visibility(PropertyAccessor.FIELD, JsonAutoDetect.Visibility.ANY)
    .visibility(PropertyAccessor.CREATOR, JsonAutoDetect.Visibility.ANY)
    .withCoercionConfig(LogicalType.Textual, c -> c
      .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
      .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
      .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
    .withCoercionConfig(LogicalType.Integer, c -> c
      .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
      .setCoercion(CoercionInputShape.Float, CoercionAction.Fail)
      .setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
    .withCoercionConfig(LogicalType.Boolean, c -> c
      .setCoercion(CoercionInputShape.String, CoercionAction.Fail)
      .setCoercion(CoercionInputShape.Integer, CoercionAction.Fail))
    // JsonObject and JsonArray inside a record are written as JSON (Vert.x's own serializers).
    .addModule(new VertxModule())
    .build();

  private JsonBinding() {
  }

  /**
   * The request body bound as {@code type}.
   *
   * @throws ApiException 415 when the content type is not JSON, 400 when the body is empty, not JSON, not an object or
   *                      does not bind (see {@link #bind(byte[], Class, Map)})
   */
  public static <T> T read(RoutingContext ctx, Class<T> type) {
    return read(ctx, type, Map.of());
  }

  /** As {@link #read(RoutingContext, Class)}; a field named in {@code refused} is an INVALID_FIELD with its message. */
  public static <T> T read(RoutingContext ctx, Class<T> type, Map<String, String> refused) {
    String contentType = ctx.request().getHeader("Content-Type");
    if (!JsonRequests.isJson(contentType)) {
      throw new ApiException(415, "UNSUPPORTED_MEDIA_TYPE",
        "Content-Type must be application/json, got " + (contentType == null ? "none" : "'" + contentType + "'"));
    }
    Buffer body = ctx.body().buffer();
    if (body == null || body.length() == 0) {
      throw ApiException.badRequest("EMPTY_BODY", "the request body is empty; send a JSON object");
    }
    return bind(body.getBytes(), type, refused);
  }

  /**
   * {@code json} bound as {@code type}: one JSON object and nothing after it.
   *
   * @throws ApiException 400 {@code MALFORMED_JSON}, {@code NOT_AN_OBJECT}, {@code DUPLICATE_FIELD},
   *                      {@code UNKNOWN_FIELD}, {@code INVALID_FIELD}, or what the record's constructor threw
   */
  public static <T> T bind(byte[] json, Class<T> type, Map<String, String> refused) {
    ObjectReader reader = MAPPER.readerFor(type);
    try (JsonParser parser = reader.createParser(json)) {
      JsonToken first = parser.nextToken();
      if (first != JsonToken.START_OBJECT) {
        if (first == null) {
          throw ApiException.badRequest("MALFORMED_JSON", "the request body is not valid JSON");
        }
        throw ApiException.badRequest("NOT_AN_OBJECT", "the request body must be a JSON object");
      }
      return checked(type, reader.readValue(parser));
    } catch (IOException e) {
      throw translate(e, refused);
    }
  }

  /** An object already parsed (a state store's value, an event's data) bound as {@code type}, as {@link #bind}. */
  public static <T> T bind(JsonObject json, Class<T> type) {
    try {
      return checked(type, MAPPER.convertValue(json.getMap(), type));
    } catch (IllegalArgumentException e) {
      throw e.getCause() instanceof IOException io ? translate(io, Map.of()) : e;
    }
  }

  /**
   * A record whose values are checked once it is bound ({@link JsonRequests}' rules): after the binding, so that an
   * unknown or mistyped field is what a client is told about first, as before any value is looked at.
   */
  public interface Checked<T> {
    /** This record with its values checked (trimmed, say); throws the {@link ApiException} for one that is not. */
    T checked();
  }

  private static <T> T checked(Class<T> type, T value) {
    return value instanceof Checked<?> checked ? type.cast(checked.checked()) : value;
  }

  /** {@code value} as JSON bytes. */
  public static Buffer encode(Object value) {
    try {
      return Buffer.buffer(MAPPER.writeValueAsBytes(value));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
    }
  }

  /** {@code value} as a {@link JsonObject}, for the places that hand JSON on to Vert.x or to Dapr. */
  @SuppressWarnings("unchecked")
  public static JsonObject toJsonObject(Object value) {
    return new JsonObject(MAPPER.convertValue(value, Map.class));
  }

  /** The one translation of jackson's failures to the API's codes. */
  static ApiException translate(IOException failure, Map<String, String> refused) {
    if (failure instanceof ValueInstantiationException e && e.getCause() instanceof ApiException api) {
      return api;
    }
    if (failure instanceof UnrecognizedPropertyException e) {
      String name = e.getPropertyName();
      if (refused.containsKey(name)) {
        return ApiException.badRequest("INVALID_FIELD", refused.get(name));
      }
      Set<String> allowed = e.getKnownPropertyIds().stream().map(String::valueOf)
        .filter(known -> !refused.containsKey(known)).collect(Collectors.toCollection(TreeSet::new));
      return ApiException.badRequest("UNKNOWN_FIELD", "unknown field(s) [" + path(e) + "]; allowed: " + allowed);
    }
    if (failure instanceof JsonMappingException e && !e.getPath().isEmpty()) {
      String field = path(e);
      if (failure instanceof MismatchedInputException mismatch) {
        return ApiException.badRequest("INVALID_FIELD", "'" + field + "' must be " + kind(mismatch));
      }
      return ApiException.badRequest("INVALID_FIELD", "'" + field + "' is not valid: " + e.getOriginalMessage());
    }
    if (failure instanceof ValueInstantiationException e) {
      return ApiException.badRequest("INVALID_FIELD", String.valueOf(e.getCause() == null ? e.getOriginalMessage()
        : e.getCause().getMessage()));
    }
    if (failure instanceof JsonProcessingException e && e.getOriginalMessage() != null
      && e.getOriginalMessage().startsWith("Duplicate field '")) {
      String name = e.getOriginalMessage().substring("Duplicate field '".length()).replaceFirst("'.*", "");
      return ApiException.badRequest("DUPLICATE_FIELD", "'" + name + "' is given more than once; send each field once");
    }
    // Not JSON, cut short, or more after the object (FAIL_ON_TRAILING_TOKENS).
    return ApiException.badRequest("MALFORMED_JSON", "the request body is not valid JSON");
  }

  private static String kind(MismatchedInputException mismatch) {
    Class<?> target = mismatch.getTargetType();
    if (target == String.class) {
      return "a string";
    }
    if (target == int.class || target == Integer.class || target == long.class || target == Long.class) {
      return "an integer";
    }
    if (target == boolean.class || target == Boolean.class) {
      return "true or false";
    }
    return "a JSON value of another type";
  }

  /** The field a failure is about: {@code title}, or {@code entries[0].event} for a nested one. */
  private static String path(JsonMappingException e) {
    StringBuilder path = new StringBuilder();
    for (JsonMappingException.Reference ref : e.getPath()) {
      if (ref.getFieldName() != null) {
        path.append(path.isEmpty() ? "" : ".").append(ref.getFieldName());
      } else if (ref.getIndex() >= 0) {
        path.append('[').append(ref.getIndex()).append(']');
      }
    }
    return path.toString();
  }
}
