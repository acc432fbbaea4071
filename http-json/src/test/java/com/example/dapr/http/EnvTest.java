package com.example.dapr.http;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EnvTest {

  private final Env env = new Env(Map.of("PORT", "3501", "BLANK", "  ", "WORD", "abc", "MODE", "Header"));

  @Test
  void defaultsApplyWhenUnsetOrBlank() {
    assertEquals(3500, env.port("MISSING", 3500));
    assertEquals("x", env.string("BLANK", "x"));
    assertEquals(3501, env.port("PORT", 3500));
  }

  @Test
  void badValuesNameTheVariable() {
    IllegalArgumentException notANumber = assertThrows(IllegalArgumentException.class, () -> env.port("WORD", 1));
    assertTrue(notANumber.getMessage().startsWith("WORD must be a whole number"), notANumber.getMessage());
    IllegalArgumentException outOfRange = assertThrows(IllegalArgumentException.class,
      () -> env.number("PORT", 1, 1, 100));
    assertEquals("PORT must be between 1 and 100, got 3501", outOfRange.getMessage());
  }

  @Test
  void choicesIgnoreCaseAndRejectOthers() {
    assertEquals("header", env.choice("MODE", "path", "path", "header"));
    assertThrows(IllegalArgumentException.class, () -> env.choice("WORD", "path", "path", "header"));
  }
}
