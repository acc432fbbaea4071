package com.example.dapr.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What the notification-service replicas received, counted at the receiving end: every replica logs
 * {@code Notification received: ... notification_id=<id> ...} once per delivery, and its log file outlives a killed
 * process (a restarted replica appends to it), so the count by id covers every life of every replica.
 */
final class Receipts {

  private static final Pattern RECEIVED = Pattern.compile("Notification received: .*notification_id=([^,)]+)");

  private Receipts() {
  }

  /** Notification id to how many times a replica received it, from {@code logs/notification-<k>.log}. */
  static Map<String, Integer> count(Path logs) throws IOException {
    Map<String, Integer> counts = new HashMap<>();
    try (Stream<Path> files = Files.list(logs)) {
      for (Path log : files.filter(f -> f.getFileName().toString().matches("notification-\\d+\\.log")).toList()) {
        for (String line : Files.readAllLines(log)) {
          Matcher m = RECEIVED.matcher(line);
          if (m.find()) {
            counts.merge(m.group(1), 1, Integer::sum);
          }
        }
      }
    }
    return counts;
  }

  /** Of {@code ids}: how many no replica received, and how many one received more than once. */
  record Tally(int expected, int lost, int duplicated) {
    static Tally of(List<String> ids, Map<String, Integer> counts) {
      int lost = 0;
      int duplicated = 0;
      for (String id : ids) {
        int n = counts.getOrDefault(id, 0);
        if (n == 0) {
          lost++;
        } else if (n > 1) {
          duplicated++;
        }
      }
      return new Tally(ids.size(), lost, duplicated);
    }

    int delivered() {
      return expected - lost;
    }
  }
}
