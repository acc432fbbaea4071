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
 * process (a restarted replica appends to it), so the count by id covers every life of every replica. The same for
 * billing-service's charges.
 */
final class Receipts {

  private static final Pattern RECEIVED = Pattern.compile("Notification received: .*notification_id=([^,)]+)");
  private static final Pattern CHARGED = Pattern.compile("Charge recorded: (\\S+) \\(task_id=");

  private Receipts() {
  }

  /** Notification id to how many times a replica received it, from {@code logs/notification-<k>.log}. */
  static Map<String, Integer> count(Path logs) throws IOException {
    return count(logs, "notification-\\d+\\.log", RECEIVED);
  }

  /**
   * Charge id to how many times billing-service recorded it ({@code Charge recorded: <charge_id> (task_id=...)}, once
   * per charge), from {@code logs/billing-<k>.log}.
   */
  static Map<String, Integer> charges(Path logs) throws IOException {
    return count(logs, "billing-\\d+\\.log", CHARGED);
  }

  private static Map<String, Integer> count(Path logs, String files, Pattern line) throws IOException {
    Map<String, Integer> counts = new HashMap<>();
    try (Stream<Path> found = Files.list(logs)) {
      for (Path log : found.filter(f -> f.getFileName().toString().matches(files)).toList()) {
        for (String text : Files.readAllLines(log)) {
          Matcher m = line.matcher(text);
          if (m.find()) {
            counts.merge(m.group(1), 1, Integer::sum);
          }
        }
      }
    }
    return counts;
  }

  /**
   * Of {@code ids}: the ones no replica logged, and how many one logged more than once. Of the ones not logged,
   * {@code recordedOnly} counts those whose answer a replica recorded in notificationstore all the same (it records
   * only after it delivered, so this must stay 0), {@code lost} the others.
   */
  record Tally(int expected, int lost, int recordedOnly, int duplicated, List<String> lostIds) {
    static Tally of(List<String> ids, Map<String, Integer> counts, java.util.function.Predicate<String> recorded) {
      List<String> lost = new java.util.ArrayList<>();
      int recordedOnly = 0;
      int duplicated = 0;
      for (String id : ids) {
        int n = counts.getOrDefault(id, 0);
        if (n == 0) {
          if (recorded.test(id)) {
            recordedOnly++;
          } else {
            lost.add(id);
          }
        } else if (n > 1) {
          duplicated++;
        }
      }
      return new Tally(ids.size(), lost.size(), recordedOnly, duplicated, List.copyOf(lost));
    }

    int delivered() {
      return expected - lost - recordedOnly;
    }
  }

  /** Whether notification-service's record of {@code notificationId} is in the Redis at {@code redisPort}. */
  static boolean recorded(int redisPort, String notificationId) {
    try {
      return RedisCli.run(redisPort, "EXISTS", "notification-service||delivery-" + notificationId).equals("1");
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException("cannot ask Redis for the record of " + notificationId, e);
    }
  }
}
