package com.example.dapr.e2e;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ports of everything the test command starts (scripts/test-systems.txt), computed from scripts/run.sh's one port
 * plan (scripts/lib.sh plan_ports), never meet: not the ports of a user's default scripts/run.sh with up to 10
 * replicas, not one another's, so that any of them may run beside any other; and none lies in Linux's ephemeral range,
 * where an outgoing connection may hold it. A unit test (layer 1): it starts nothing.
 */
class PortPlanTest {

  private static final Path ROOT = Path.of(System.getProperty("project.root", "..")).toAbsolutePath().normalize();
  /** The lowest port of Linux's default ip_local_port_range (32768-60999). */
  private static final int EPHEMERAL_FROM = 32_768;

  @Test
  void noTwoSystemsOfTheTestCommandNorAUsersDefaultSystemShareAPort() throws Exception {
    Map<Integer, String> owner = new HashMap<>();
    List<String> collisions = new ArrayList<>();
    for (TestSystems.Row row : TestSystems.rows()) {
      for (Map.Entry<Integer, String> port : ports(row).entrySet()) {
        String mine = row.name() + " (" + port.getValue() + ")";
        String theirs = owner.putIfAbsent(port.getKey(), mine);
        if (theirs != null) {
          collisions.add(port.getKey() + ": " + theirs + " and " + mine);
        }
      }
    }
    assertEquals(List.of(), collisions, "ports two rows of scripts/test-systems.txt would both bind");
    assertTrue(owner.size() > 300, "the rows were read and planned: " + owner.size() + " ports");
    int ephemeralFrom = Math.min(EPHEMERAL_FROM, machineEphemeralFrom());
    List<Integer> ephemeral = owner.keySet().stream().filter(p -> p >= ephemeralFrom || p < 1).sorted().toList();
    assertEquals(List.of(), ephemeral, "ports at or above " + ephemeralFrom + " (ephemeral range), or invalid");
  }

  @Test
  void theDefaultRowIsAUsersSystemWithTheMostReplicasRunShAllows() throws Exception {
    TestSystems.Row row = TestSystems.row("default");
    assertEquals(0, row.offset());
    java.util.regex.Matcher most = java.util.regex.Pattern.compile("\\[ \"\\$REPLICAS\" -le (\\d+) \\]")
      .matcher(java.nio.file.Files.readString(ROOT.resolve("scripts/run.sh")));
    assertTrue(most.find(), "scripts/run.sh's bound on --replicas");
    assertEquals(Integer.parseInt(most.group(1)), row.replicas());
  }

  @Test
  void theE2eClassesPortArithmeticIsScriptsRunShsPlan() throws Exception {
    for (TestSystems.Row row : TestSystems.rows()) {
      if (row.offset() < 0) {
        continue;
      }
      Map<String, Integer> plan = new HashMap<>();
      ports(row).forEach((port, what) -> plan.put(what, port));
      for (int k = 0; k <= row.replicas(); k++) {
        assertEquals(plan.get("app " + k), EmbeddedSystem.appPort(row.offset(), k), row.name() + " app " + k);
        assertEquals(plan.get("http " + k), EmbeddedSystem.sidecarHttpPort(row.offset(), k), row.name() + " http " + k);
        assertEquals(plan.get("internal " + k), EmbeddedSystem.sidecarInternalGrpcPort(row.offset(), k),
          row.name() + " internal " + k);
      }
    }
  }

  @Test
  void theScriptsStartTheirSystemsAtTheOffsetsOfTheTable() throws Exception {
    String offsetDefault = "OFFSET=\\$\\{PORT_OFFSET:-(\\d+)\\}";
    assertEquals(TestSystems.offset("benchmark"), scriptDefault("scripts/benchmark.sh", offsetDefault));
    assertEquals(TestSystems.offset("peers"), TestSystems.offset("benchmark")
      + scriptDefault("scripts/benchmark.sh", "BASE_OFFSET=\\$\\(\\(OFFSET \\+ (\\d+)\\)\\)"),
      "benchmark.sh's baseline is the peers' row");
    assertEquals(TestSystems.offset("peers"), scriptDefault("scripts/benchmark-peers.sh", offsetDefault));
    assertEquals(TestSystems.offset("soak"), scriptDefault("scripts/soak.py", "\"PORT_OFFSET\", \"(\\d+)\""));
    String test = Files.readString(ROOT.resolve("scripts/test.sh"));
    assertTrue(!Pattern.compile("PORT_OFFSET=\\d").matcher(test).find(),
      "scripts/test.sh takes its offsets from scripts/test-systems.txt (test_system_offset), not as numbers");
  }

  private static int scriptDefault(String script, String regex) throws Exception {
    Matcher m = Pattern.compile(regex).matcher(Files.readString(ROOT.resolve(script)));
    assertTrue(m.find(), script + ": no " + regex);
    return Integer.parseInt(m.group(1));
  }

  /** Port to what it is, of one row, from scripts/lib.sh test_system_ports (plan_ports and the row's others). */
  private static Map<Integer, String> ports(TestSystems.Row row) throws Exception {
    Process bash = new ProcessBuilder("bash", "-c", ". scripts/lib.sh && test_system_ports \"$1\"", "bash", row.name())
      .directory(ROOT.toFile()).redirectErrorStream(true).start();
    String out = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bash.waitFor(60, TimeUnit.SECONDS) && bash.exitValue() == 0, "test_system_ports " + row.name() + ": " + out);
    Map<Integer, String> ports = new HashMap<>();
    for (String line : out.strip().split("\n")) {
      String[] parts = line.split(" ", 2);
      String previous = ports.put(Integer.parseInt(parts[0]), parts[1]);
      assertTrue(previous == null, row.name() + " binds port " + parts[0] + " twice: " + previous + ", " + parts[1]);
    }
    // 5 ports for each process: todo-api, the replicas, billing-service; 6 for the system's own servers.
    assertEquals(row.otherPorts().size() + (row.offset() < 0 ? 0 : 5 * (row.replicas() + 2) + 6), ports.size(),
      row.name() + ": " + ports);
    return ports;
  }

  /** The machine's own ip_local_port_range start, if it is lower than the default. */
  private static int machineEphemeralFrom() {
    // One read: a sysctl file answers only a read from its start (a second read at an offset gets nothing).
    try (var in = Files.newInputStream(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
      byte[] range = new byte[64];
      int n = in.read(range);
      return Integer.parseInt(new String(range, 0, Math.max(n, 0), StandardCharsets.US_ASCII).trim().split("\\s+")[0]);
    } catch (Exception unknown) {
      return EPHEMERAL_FROM;
    }
  }
}
