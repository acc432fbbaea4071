package com.example.dapr.todo;

import java.util.HashSet;
import java.util.Set;

/** An {@code If-Match} header: {@code *} or entity tags, quoted or not (Dapr's ETags are bare, HTTP's are quoted). */
record IfMatch(boolean any, Set<String> tags) {

  /** The parsed header, or null when there is none. */
  static IfMatch parse(String header) {
    if (header == null || header.isBlank()) {
      return null;
    }
    if (header.strip().equals("*")) {
      return new IfMatch(true, Set.of());
    }
    Set<String> tags = new HashSet<>();
    for (String part : header.split(",")) {
      String tag = part.strip();
      if (tag.startsWith("W/")) {
        tag = tag.substring(2);
      }
      if (tag.length() >= 2 && tag.startsWith("\"") && tag.endsWith("\"")) {
        tag = tag.substring(1, tag.length() - 1);
      }
      if (!tag.isEmpty()) {
        tags.add(tag);
      }
    }
    return new IfMatch(false, Set.copyOf(tags));
  }

  boolean matches(String etag) {
    return any || (etag != null && tags.contains(etag));
  }

  /** The HTTP form of a Dapr ETag: quoted. */
  static String quote(String etag) {
    return "\"" + etag + "\"";
  }
}
