package com.example.dapr.http;

import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonRequestsTest {

  @Test
  void jsonContentTypes() {
    assertTrue(JsonRequests.isJson("application/json"));
    assertTrue(JsonRequests.isJson("Application/JSON; charset=UTF-8"));
    assertTrue(JsonRequests.isJson("application/merge-patch+json"));
    assertFalse(JsonRequests.isJson("text/json-ish"));
    assertFalse(JsonRequests.isJson(null));
  }

  @Test
  void stringsAreTrimmedAndChecked() {
    JsonObject body = new JsonObject().put("a", "  hi  ").put("n", 1).put("long", "xxxx");
    assertEquals("hi", JsonRequests.requiredString(body, "a", 10));
    assertNull(JsonRequests.optionalString(body, "missing", 10));
    ApiException wrongType = assertThrows(ApiException.class, () -> JsonRequests.requiredString(body, "n", 10));
    assertEquals(400, wrongType.status());
    assertEquals("INVALID_FIELD", wrongType.error());
    assertEquals("'long' must be at most 3 characters",
      assertThrows(ApiException.class, () -> JsonRequests.requiredString(body, "long", 3)).getMessage());
  }
}
