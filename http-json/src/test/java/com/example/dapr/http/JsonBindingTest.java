package com.example.dapr.http;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class JsonBindingTest {

  record Sample(String name, Integer count, Boolean flag, String createdAt) {
  }

  record Counted(int count) {
  }

  private static Sample bind(String json) {
    return JsonBinding.bind(json.getBytes(StandardCharsets.UTF_8), Sample.class, Map.of("id", "'id' is not yours"));
  }

  private static void refused(String json, String error, String message) {
    ApiException e = assertThrows(ApiException.class, () -> bind(json), json);
    assertEquals(400, e.status(), json);
    assertEquals(error, e.error(), json);
    assertEquals(message, e.getMessage(), json);
  }

  @Test
  void bindsSnakeCaseAndWritesWithoutNulls() {
    assertEquals(new Sample("a", 2, true, "now"),
      bind("{\"name\":\"a\",\"count\":2,\"flag\":true,\"created_at\":\"now\"}"));
    assertEquals("{\"name\":\"a\",\"count\":2}", JsonBinding.encode(new Sample("a", 2, null, null)).toString());
    assertEquals(new JsonObject().put("name", "a").put("count", 2).put("created_at", "t"),
      JsonBinding.toJsonObject(new Sample("a", 2, null, "t")));
  }

  @Test
  void duplicateKeysAreRefusedNamingTheKey() {
    refused("{\"name\":\"a\",\"name\":\"b\"}", "DUPLICATE_FIELD", "'name' is given more than once; send each field once");
  }

  @Test
  void noScalarIsCoerced() {
    refused("{\"name\":1}", "INVALID_FIELD", "'name' must be a string");
    refused("{\"name\":1.5}", "INVALID_FIELD", "'name' must be a string");
    refused("{\"name\":false}", "INVALID_FIELD", "'name' must be a string");
    refused("{\"name\":[\"a\"]}", "INVALID_FIELD", "'name' must be a string");
    refused("{\"name\":{}}", "INVALID_FIELD", "'name' must be a string");
    refused("{\"count\":\"1\"}", "INVALID_FIELD", "'count' must be an integer");
    refused("{\"count\":1.5}", "INVALID_FIELD", "'count' must be an integer");
    refused("{\"count\":1.0}", "INVALID_FIELD", "'count' must be an integer");
    refused("{\"count\":true}", "INVALID_FIELD", "'count' must be an integer");
    refused("{\"flag\":\"true\"}", "INVALID_FIELD", "'flag' must be true or false");
    refused("{\"flag\":1}", "INVALID_FIELD", "'flag' must be true or false");
  }

  @Test
  void aPrimitiveIsNeverNullNorAbsent() {
    for (String json : new String[] {"{\"count\":null}", "{}"}) {
      ApiException e = assertThrows(ApiException.class,
        () -> JsonBinding.bind(json.getBytes(StandardCharsets.UTF_8), Counted.class, Map.of()), json);
      assertEquals("'count' must be an integer", e.getMessage(), json);
    }
  }

  @Test
  void unknownAndRefusedFields() {
    refused("{\"nmae\":\"a\"}", "UNKNOWN_FIELD", "unknown field(s) [nmae]; allowed: [count, created_at, flag, name]");
    refused("{\"id\":\"a\"}", "INVALID_FIELD", "'id' is not yours");
  }

  @Test
  void onlyOneObjectIsJson() {
    refused("{\"name\":\"a\"} {}", "MALFORMED_JSON", "the request body is not valid JSON");
    refused("{\"name\":\"a\"} 1", "MALFORMED_JSON", "the request body is not valid JSON");
    refused("{\"name\":\"a\"} x", "MALFORMED_JSON", "the request body is not valid JSON");
    refused("{\"name\":", "MALFORMED_JSON", "the request body is not valid JSON");
    refused("   ", "MALFORMED_JSON", "the request body is not valid JSON");
    refused("[]", "NOT_AN_OBJECT", "the request body must be a JSON object");
    refused("null", "NOT_AN_OBJECT", "the request body must be a JSON object");
    refused("\"a\"", "NOT_AN_OBJECT", "the request body must be a JSON object");
  }

  @Test
  void anObjectAlreadyParsedBindsAsStrictly() {
    assertEquals(new Sample("a", 1, null, null), JsonBinding.bind(new JsonObject().put("name", "a").put("count", 1),
      Sample.class));
    assertEquals("UNKNOWN_FIELD", assertThrows(ApiException.class,
      () -> JsonBinding.bind(new JsonObject().put("event", "created"), Sample.class)).error());
    assertEquals("INVALID_FIELD", assertThrows(ApiException.class,
      () -> JsonBinding.bind(new JsonObject().put("count", "1"), Sample.class)).error());
  }
}
