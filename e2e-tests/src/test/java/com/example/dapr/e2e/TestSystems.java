package com.example.dapr.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The rows of scripts/test-systems.txt: each system the test command starts (its PORT_OFFSET and replicas for
 * scripts/run.sh's port plan) and the other ports it listens on. The e2e classes take their offsets here, so that
 * {@link PortPlanTest} checks the ports they really use.
 */
final class TestSystems {

  private static final Path FILE = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize()
    .resolve("scripts/test-systems.txt");

  /** One row; {@code offset} and {@code replicas} are -1 for a row without a system of scripts/run.sh. */
  record Row(String name, int offset, int replicas, List<Integer> otherPorts) {
  }

  private TestSystems() {
  }

  static List<Row> rows() {
    List<String> lines;
    try {
      lines = Files.readAllLines(FILE);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + FILE, e);
    }
    List<Row> rows = new ArrayList<>();
    for (String line : lines) {
      String[] fields = line.replaceAll("#.*", "").trim().split("\\s+");
      if (fields.length < 4) {
        if (!fields[0].isEmpty()) {
          throw new IllegalStateException(FILE + ": not name, offset, replicas, other ports: " + line);
        }
        continue;
      }
      List<Integer> others = new ArrayList<>();
      if (!fields[3].equals("-")) {
        for (String range : fields[3].split(",")) {
          String[] ends = range.split("-");
          int from = Integer.parseInt(ends[0]);
          int to = Integer.parseInt(ends[ends.length - 1]);
          for (int port = from; port <= to; port++) {
            others.add(port);
          }
        }
      }
      rows.add(new Row(fields[0], fields[1].equals("-") ? -1 : Integer.parseInt(fields[1]),
        fields[2].equals("-") ? -1 : Integer.parseInt(fields[2]), List.copyOf(others)));
    }
    return rows;
  }

  static Row row(String name) {
    return rows().stream().filter(r -> r.name().equals(name)).findFirst()
      .orElseThrow(() -> new IllegalStateException("no system '" + name + "' in " + FILE));
  }

  /** The PORT_OFFSET of system {@code name}. */
  static int offset(String name) {
    return row(name).offset();
  }

  /** The other ports of row {@code name}, in the order the row gives them. */
  static List<Integer> otherPorts(String name) {
    return row(name).otherPorts();
  }
}
