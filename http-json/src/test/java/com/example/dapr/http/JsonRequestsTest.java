package com.example.dapr.http;

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
    assertEquals("hi", JsonRequests.requiredString("a", "  hi  ", 10));
    assertNull(JsonRequests.optionalString("missing", null, 10));
    ApiException missing = assertThrows(ApiException.class, () -> JsonRequests.requiredString("a", null, 10));
    assertEquals(400, missing.status());
    assertEquals("MISSING_FIELD", missing.error());
    assertEquals("'long' must be at most 3 characters",
      assertThrows(ApiException.class, () -> JsonRequests.requiredString("long", "xxxx", 3)).getMessage());
  }

  @Test
  void textRefusesEachControlAndBidiCharacterNamingItAndItsIndex() {
    int[] refused = {0x00, 0x09, 0x0A, 0x1B, 0x1F, 0x7F, 0x80, 0x85, 0x9F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E,
      0x2066, 0x2067, 0x2068, 0x2069};
    for (int c : refused) {
      String title = "ab" + (char) c + "cd";
      ApiException e = assertThrows(ApiException.class, () -> JsonRequests.requiredText("title", title, 200),
        Integer.toHexString(c));
      assertEquals("INVALID_FIELD", e.error());
      assertEquals(String.format("'title' must not contain control or bidirectional formatting characters: "
        + "U+%04X at index 2", c), e.getMessage());
    }
    // The first one is named: the override at 0, not the NUL at 1.
    assertEquals("'title' must not contain control or bidirectional formatting characters: U+202E at index 0",
      assertThrows(ApiException.class, () -> JsonRequests.requiredText("title", "\u202e\u0000evil", 200)).getMessage());
    // Their neighbours and ordinary non-ASCII text pass.
    for (String fine : new String[] {"a b", "~", "x\u00a0y", "\u00e9t\u00e9", "\u2029x", "\u2065x", "\u206ax", "\u2070",
      "\u05e9\u05dc\u05d5\u05dd", "\ud83d\ude00", "x\u00a0"}) {
      assertEquals(fine.strip(), JsonRequests.requiredText("title", fine, 200), fine);
    }
  }
}
