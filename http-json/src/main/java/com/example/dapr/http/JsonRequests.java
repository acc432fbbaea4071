package com.example.dapr.http;

/**
 * The rules for the string fields of a request, called from the compact constructors of the records that
 * {@link JsonBinding} binds; each refusal is the 400 a client can act on.
 */
public final class JsonRequests {

  private JsonRequests() {
  }

  /**
   * A required string field: present, not blank after trimming, at most {@code maxLength} characters.
   *
   * @return the trimmed value
   */
  public static String requiredString(String field, String value, int maxLength) {
    if (value == null) {
      throw ApiException.badRequest("MISSING_FIELD", "'" + field + "' is required");
    }
    return checkedString(field, value, maxLength);
  }

  /** An optional string field: absent or null gives null; otherwise checked as {@link #requiredString}. */
  public static String optionalString(String field, String value, int maxLength) {
    return value == null ? null : checkedString(field, value, maxLength);
  }

  /**
   * As {@link #requiredString}, for text shown to people (a title, a message): it must also not hold a control
   * character or a bidirectional override, embedding or isolate, which would make it print as something else.
   */
  public static String requiredText(String field, String value, int maxLength) {
    if (value != null) {
      refuseInvisible(field, value);
    }
    return requiredString(field, value, maxLength);
  }

  /** An optional {@link #requiredText}: absent or null gives null. */
  public static String optionalText(String field, String value, int maxLength) {
    return value == null ? null : requiredText(field, value, maxLength);
  }

  /**
   * Refuses C0 (U+0000 to U+001F) and C1 (U+007F to U+009F) controls and the bidirectional embeddings and overrides
   * (U+202A to U+202E) and isolates (U+2066 to U+2069), naming the first one and its index in the string as sent
   * (0-based, in UTF-16 code units as JSON counts them). Checked before trimming, so a leading tab is named too.
   */
  static void refuseInvisible(String field, String value) {
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c <= 0x1F || (c >= 0x7F && c <= 0x9F) || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069)) {
        throw ApiException.badRequest("INVALID_FIELD", String.format(
          "'%s' must not contain control or bidirectional formatting characters: U+%04X at index %d", field, (int) c, i));
      }
    }
  }

  private static String checkedString(String field, String value, int maxLength) {
    String trimmed = value.strip();
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
