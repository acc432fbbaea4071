package com.example.dapr.e2e;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.client.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The secure default of scripts/run.sh, proven from outside: on the wire (the sidecars' internal gRPC ports), by
 * access control, by the API tokens both ways, by the state store's scoping, and through certificate rotations under
 * load. Each property is checked against a control, the same system started with --insecure, where it must not hold,
 * so no check here passes for a reason other than the security it names. The secure system runs with workload
 * certificates of 30 s (renewed every ~12 s), so every test here also runs across rotations.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SecurityE2E extends AgainstEmbeddedSystem {

  private static final int REPLICAS = 3;
  private static final int OFFSET = TestSystems.offset("security");
  private static final int INSECURE_OFFSET = TestSystems.offset("security-control");
  /** The intruder daprd's HTTP, gRPC, internal gRPC and metrics ports (scripts/test-systems.txt). */
  private static final List<Integer> INTRUDER_PORTS = TestSystems.otherPorts("security");
  private static final Path WORK = Path.of(System.getProperty("e2e.work", "target/e2e")).toAbsolutePath();

  /** The control: the same system without Sentry, mTLS, access control or tokens, with one replica. */
  private EmbeddedSystem insecure;

  SecurityE2E() {
    super("security", OFFSET, Map.of("SENTRY_WORKLOAD_CERT_TTL", "30s", "SENTRY_ALLOWED_CLOCK_SKEW", "5s"));
  }

  @BeforeAll
  void startControl() throws Exception {
    insecure = EmbeddedSystem.start("security-control", INSECURE_OFFSET, "--insecure", "--replicas", "1");
  }

  @AfterAll
  void stopControl() throws Exception {
    if (insecure != null) {
      insecure.close();
    }
  }

  /** Sidecar k's internal gRPC port (daprd to daprd). */
  private static int internalPort(int offset, int k) {
    return EmbeddedSystem.sidecarInternalGrpcPort(offset, k);
  }

  private Path ca() {
    return system.secrets().resolve("sentry/ca.crt");
  }

  private String appId(int k) {
    return k == 0 ? "todo-api" : "notification-service";
  }

  private JsonObject create(EmbeddedSystem target, String title) throws Exception {
    HttpResponse<Buffer> response = http.postJson(target.todoPort(), "/tasks", new JsonObject().put("title", title));
    assertEquals(201, response.statusCode(), response.bodyAsString());
    return response.bodyAsJsonObject();
  }

  /** A notification of task {@code taskId} with an id of its own, as todo-api would send it. */
  private static JsonObject notification(String taskId, String message) {
    return new JsonObject().put("message", message).put("task_id", taskId)
      .put("notification_id", taskId + "-" + UUID.randomUUID() + ":created");
  }

  private static int received(EmbeddedSystem target, String notificationId) throws Exception {
    return Receipts.count(target.logs()).getOrDefault(notificationId, 0);
  }

  @Test
  @Order(1)
  void everySidecarsInternalGrpcPortRefusesAClientWithoutACertificateAndPlaintextHttp2() throws Exception {
    for (int k = 0; k <= REPLICAS; k++) {
      Wire.TlsProbe probe = Wire.tls(internalPort(OFFSET, k), ca());
      assertNotNull(probe.refusal(), "sidecar " + k + " went on with a client that has no certificate");
      assertTrue(probe.refusal().contains("certificate_required"), "sidecar " + k + ": " + probe.refusal());
      byte[] answer = Wire.plaintextH2(internalPort(OFFSET, k));
      assertFalse(Wire.isH2ServerPreface(answer), "sidecar " + k + " answered plaintext HTTP/2 with a server preface");
    }
    // Control: without mTLS the same port speaks plaintext HTTP/2 to anyone.
    assertTrue(Wire.isH2ServerPreface(Wire.plaintextH2(internalPort(INSECURE_OFFSET, 0))),
      "the insecure control's todo-api sidecar did not answer h2c with a SETTINGS frame");
  }

  @Test
  @Order(2)
  void everySidecarPresentsItsSpiffeIdInACertificateFromSentrysRoot() throws Exception {
    for (int k = 0; k <= REPLICAS; k++) {
      Wire.TlsProbe probe = Wire.tls(internalPort(OFFSET, k), ca()); // fails unless the chain ends at ca.crt
      assertEquals("h2", probe.alpn());
      assertEquals(List.of("spiffe://public/ns/default/" + appId(k)), probe.uris(), "sidecar " + k);
      long lifeSeconds = (probe.leaf().getNotAfter().getTime() - probe.leaf().getNotBefore().getTime()) / 1000;
      assertTrue(lifeSeconds <= 35, "30 s TTL + 5 s clock skew from Sentry's configuration, got " + lifeSeconds + " s");
      assertEquals(2, probe.chain().size(), "the leaf and Sentry's issuer");
      assertEquals("EdDSA", probe.leaf().getPublicKey().getAlgorithm(), "Sentry's keys are Ed25519");
    }
  }

  @Test
  @Order(3)
  void aTaskTitleNeverCrossesBetweenSidecarsInClear() throws Exception {
    List<Integer> ports = new ArrayList<>();
    for (int k = 0; k <= REPLICAS; k++) {
      ports.add(internalPort(OFFSET, k));
    }
    String title = "wire-secret-" + UUID.randomUUID();
    Capture.Packets secure;
    try (Capture capture = Capture.start(WORK.resolve("security-secure.pcap"), ports, 300)) {
      for (int i = 0; i < 5; i++) {
        assertEquals("delivered", create(system, title).getJsonObject("notification").getString("status"));
      }
      secure = capture.stop();
    }
    assertTrue(secure.count() >= 10, "the capture saw the sidecars talk: " + secure.count() + " packets");
    assertTrue(secure.tcpPayloadBytes() >= 5 * title.length(), "bytes crossed: " + secure.tcpPayloadBytes());
    assertFalse(secure.contains(title), "the title crossed between the sidecars in clear");
    assertFalse(secure.contains("Todo created"), "the notification's text crossed in clear");

    // Control: the same capture on the insecure system sees the title.
    String control = "wire-control-" + UUID.randomUUID();
    Capture.Packets plain;
    try (Capture capture = Capture.start(WORK.resolve("security-control.pcap"),
      List.of(internalPort(INSECURE_OFFSET, 0), internalPort(INSECURE_OFFSET, 1)), 300)) {
      assertEquals("delivered", create(insecure, control).getJsonObject("notification").getString("status"));
      plain = capture.stop();
    }
    assertTrue(plain.contains(control), "the control capture (no mTLS) should show the title; the capture is blind");
  }

  @Test
  @Order(4)
  void onlyTodoApiMayInvokeNotificationServiceAnotherAppIdGets403AndNothingIsDelivered() throws Exception {
    JsonObject body = notification("intruder", "Todo created: from an intruder");
    String id = body.getString("notification_id");
    int intruderHttp = INTRUDER_PORTS.get(0);
    Process intruder = startIntruder(intruderHttp);
    try {
      HttpResponse<Buffer> denied = http.postJson(intruderHttp, "/v1.0/invoke/notification-service/method/notify", body);
      assertEquals(403, denied.statusCode(), denied.bodyAsString());
      JsonObject error = denied.bodyAsJsonObject();
      assertEquals("ERR_DIRECT_INVOKE", error.getString("errorCode"));
      assertTrue(error.getString("message").contains("PermissionDenied"), error.getString("message"));
      assertTrue(error.getString("message").contains("spiffe://public/ns/default/intruder"), error.getString("message"));
      assertEquals(403, http.get(intruderHttp, "/v1.0/invoke/notification-service/method/health").statusCode());
    } finally {
      intruder.destroy();
      if (!intruder.waitFor(10, TimeUnit.SECONDS)) {
        intruder.destroyForcibly();
      }
    }
    assertEquals(0, received(system, id), "a replica received the intruder's notification");

    // The same call from todo-api's sidecar is allowed and delivered: the 403 was the access control, not the path.
    // Delivered now, not answered as a repeat: no replica ever claimed this notification (a replica claims it in the
    // shared store before it delivers), so none delivered the intruder's.
    HttpResponse<Buffer> allowed = http.postJson(system.todoSidecarPort(),
      "/v1.0/invoke/notification-service/method/notify", body);
    assertEquals(200, allowed.statusCode(), allowed.bodyAsString());
    assertNull(allowed.bodyAsJsonObject().getBoolean("duplicate"), allowed.bodyAsString());
    assertEquals(1, received(system, id));
  }

  /**
   * A daprd with the app id {@code intruder}, started only for this test: the same binary, mTLS and trust anchors as
   * the system's sidecars (so Sentry gives it a valid certificate for its own id), the same name resolution.
   */
  private Process startIntruder(int httpPort) throws Exception {
    long todoSidecar = system.processes().get("todo-api-daprd");
    String daprd = EmbeddedSystem.nulSeparated(Files.readAllBytes(Path.of("/proc", String.valueOf(todoSidecar), "cmdline"))).get(0);
    Path workingDir = Path.of("/proc", String.valueOf(todoSidecar), "cwd").toRealPath();
    Path log = system.logs().resolve("intruder-daprd.log");
    ProcessBuilder builder = new ProcessBuilder(daprd, "--app-id", "intruder",
      "--dapr-http-port", String.valueOf(httpPort), "--dapr-grpc-port", String.valueOf(INTRUDER_PORTS.get(1)),
      "--dapr-internal-grpc-port", String.valueOf(INTRUDER_PORTS.get(2)),
      "--metrics-port", String.valueOf(INTRUDER_PORTS.get(3)),
      "--dapr-listen-addresses", "127.0.0.1", "--dapr-internal-grpc-listen-address", "127.0.0.1",
      "--metrics-listen-address", "127.0.0.1", "--config", Path.of(System.getProperty("project.root", ".."))
        .toAbsolutePath().normalize().resolve("dapr/config.yaml").toString(),
      "--enable-mtls", "--sentry-address", system.url("sentry").replace("grpcs://", ""))
      .directory(workingDir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile())
      .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    builder.environment().put("DAPR_TRUST_ANCHORS", Files.readString(ca()));
    builder.environment().put("DAPR_HOST_IP", "127.0.0.1");
    Process process = builder.start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      assertTrue(process.isAlive(), "the intruder's daprd exited:\n" + EmbeddedSystem.tail(log, 20));
      try {
        if (http.get(httpPort, "/v1.0/healthz").statusCode() == 204) {
          return process;
        }
      } catch (Exception notYet) {
        // starting
      }
      Thread.sleep(200);
    }
    process.destroyForcibly();
    throw new AssertionError("the intruder's daprd was not healthy in 30 s:\n" + EmbeddedSystem.tail(log, 20));
  }

  @Test
  @Order(5)
  void todoApisSidecarAnswersOnlyWithItsApiTokenExceptHealthAndTodoApiSendsIt() throws Exception {
    Http bare = new Http(); // no tokens
    try {
      for (String[] token : new String[][] {{}, {"dapr-api-token", "not-the-token"}}) {
        var request = bare.client().get(system.todoSidecarPort(), "127.0.0.1", "/v1.0/metadata");
        if (token.length == 2) {
          request.putHeader(token[0], token[1]);
        }
        HttpResponse<Buffer> refused = request.send().await(15, TimeUnit.SECONDS);
        assertEquals(401, refused.statusCode());
        assertEquals("invalid api token", refused.bodyAsString().strip());
        HttpResponse<Buffer> invoke = bare.postJson(system.todoSidecarPort(),
          "/v1.0/invoke/notification-service/method/notify", new JsonObject().put("message", "x"), token);
        assertEquals(401, invoke.statusCode(), "invocation through todo-api's sidecar without its token");
      }
      for (int k = 1; k <= REPLICAS; k++) {
        assertEquals(401, bare.get(system.replicaSidecarPort(k), "/v1.0/state/notificationstore/anything")
          .statusCode(), "notification sidecar " + k + " without its token");
      }
      for (String open : List.of("/v1.0/healthz", "/v1.0/healthz/outbound")) {
        assertEquals(204, bare.get(system.todoSidecarPort(), open).statusCode(), open + " stays open");
      }
      // Control: the insecure sidecar answers anyone.
      assertEquals(200, bare.get(insecure.todoSidecarPort(), "/v1.0/metadata").statusCode());
    } finally {
      bare.close();
    }
    assertEquals(200, http.get(system.todoSidecarPort(), "/v1.0/metadata").statusCode(), "with the token");
    // todo-api sends it: a create goes through the state API and the invocation.
    assertEquals("delivered", create(system, "sent with the token").getJsonObject("notification").getString("status"));
  }

  @Test
  @Order(6)
  void aReplicaServesOnlyItsSidecarADirectCallWithoutTheTokenIsRefusedAndNotDelivered() throws Exception {
    JsonObject body = notification("direct", "Todo created: straight to the replica");
    String id = body.getString("notification_id");
    Http bare = new Http();
    try {
      for (int k = 1; k <= REPLICAS; k++) {
        for (String[] token : new String[][] {{}, {"dapr-api-token", "not-the-token"},
          {"dapr-api-token", system.token("todo-api.app-api-token")}}) {
          HttpResponse<Buffer> refused = bare.postJson(system.replicaPort(k), "/notify", body, token);
          assertEquals(401, refused.statusCode(), refused.bodyAsString());
          assertEquals("UNAUTHORIZED", refused.bodyAsJsonObject().getString("error"));
        }
        assertEquals(200, bare.get(system.replicaPort(k), "/health").statusCode(), "health stays open for Dapr's probes");
      }
      assertEquals(0, received(system, id), "a refused direct call was delivered");

      // Control: without tokens, the hole the issue describes: a direct call is delivered.
      String controlId = "direct-control-" + UUID.randomUUID() + ":created";
      HttpResponse<Buffer> open = bare.postJson(insecure.replicaPort(1), "/notify",
        body.copy().put("notification_id", controlId));
      assertEquals(200, open.statusCode(), open.bodyAsString());
      assertEquals(1, received(insecure, controlId));
    } finally {
      bare.close();
    }
    // Through todo-api's sidecar, which sends the replica its APP_API_TOKEN: delivered, and not as a repeat, so none
    // of the refused calls was (a replica claims a notification in the shared store before it delivers it).
    HttpResponse<Buffer> viaSidecar = http.postJson(system.todoSidecarPort(),
      "/v1.0/invoke/notification-service/method/notify", body);
    assertEquals(200, viaSidecar.statusCode(), viaSidecar.bodyAsString());
    assertNull(viaSidecar.bodyAsJsonObject().getBoolean("duplicate"), viaSidecar.bodyAsString());
    assertEquals(1, received(system, id));
  }

  @Test
  @Order(7)
  void notificationServicesSidecarCannotReadTasksTheStateStoreIsScopedToTodoApi() throws Exception {
    String id = create(system, "scoped").getString("id");
    assertEquals(200, http.get(system.todoSidecarPort(), "/v1.0/state/statestore/task-" + id).statusCode());
    for (int k = 1; k <= REPLICAS; k++) {
      HttpResponse<Buffer> refused = http.get(system.replicaSidecarPort(k), "/v1.0/state/statestore/task-" + id);
      assertEquals(400, refused.statusCode(), refused.bodyAsString());
      assertEquals("ERR_STATE_STORE_NOT_FOUND", refused.bodyAsJsonObject().getString("errorCode"));
    }
  }

  @Test
  @Order(8)
  void tokensAreKeptIn0600FilesAndNeverInALogOrOnACommandLine() throws Exception {
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(system.secrets())));
    List<String> tokens = new ArrayList<>();
    for (String app : List.of("todo-api", "notification-service")) {
      for (String kind : List.of("dapr-api-token", "app-api-token")) {
        Path file = system.secrets().resolve(app + "." + kind);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)), file.toString());
        String token = system.token(app + "." + kind);
        assertTrue(token.matches("[0-9a-f]{64}"), "32 random bytes, hex");
        tokens.add(token);
      }
    }
    assertEquals(4, tokens.stream().distinct().count(), "one token per app and direction");
    List<Path> logs = new ArrayList<>();
    try (Stream<Path> files = Files.list(system.logs())) {
      files.forEach(logs::add);
    }
    logs.add(WORK.resolve("security/run.sh.log"));
    for (Path log : logs) {
      String text = Files.readString(log, StandardCharsets.ISO_8859_1);
      tokens.forEach(token -> assertFalse(text.contains(token), "a token is in " + log));
    }
    int commandLines = 0;
    try (Stream<Path> proc = Files.list(Path.of("/proc"))) {
      for (Path dir : proc.filter(p -> p.getFileName().toString().matches("\\d+")).toList()) {
        byte[] cmdline;
        try {
          cmdline = Files.readAllBytes(dir.resolve("cmdline"));
        } catch (Exception gone) {
          continue;
        }
        String line = new String(cmdline, StandardCharsets.ISO_8859_1);
        commandLines++;
        tokens.forEach(token -> assertFalse(line.contains(token), "a token is on the command line of " + dir));
      }
    }
    assertTrue(commandLines > 10, "read the command lines of the processes");
    // The processes have them, in their environment: the token files are what they were given.
    long replica = system.processes().get("notification-1");
    String environ = new String(Files.readAllBytes(Path.of("/proc", String.valueOf(replica), "environ")),
      StandardCharsets.ISO_8859_1);
    assertTrue(environ.contains("APP_API_TOKEN=" + system.token("notification-service.app-api-token")));
  }

  @Test
  @Order(9)
  void certificatesRotateSeveralTimesUnderLoadWithoutOneError() throws Exception {
    Map<String, Integer> renewalsBefore = renewals();
    var serialBefore = Wire.tls(internalPort(OFFSET, 1), ca()).leaf().getSerialNumber();
    int perSecond = 40;
    int seconds = 45;
    List<Traffic.Outcome> outcomes;
    try (Traffic traffic = Traffic.start(http, system.todoPort(), perSecond, seconds)) {
      // All sent (it stops by itself after perSecond * seconds) and all answered; the limit is only for a hang.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds + 120L);
      while (!(traffic.allSent() && traffic.settled())) {
        assertTrue(System.nanoTime() < deadline, "the traffic did not finish: " + traffic.outcomes().size()
          + " answered");
        Thread.sleep(100);
      }
      outcomes = traffic.outcomes();
    }
    Map<String, Integer> renewalsAfter = renewals();
    for (String sidecar : renewalsAfter.keySet()) {
      int during = renewalsAfter.get(sidecar) - renewalsBefore.getOrDefault(sidecar, 0);
      assertTrue(during >= 3, sidecar + " renewed its certificate " + during + " times in " + seconds + " s of load");
    }
    assertNotEquals(serialBefore, Wire.tls(internalPort(OFFSET, 1), ca()).leaf().getSerialNumber(),
      "notification-1's sidecar presents a new certificate");
    assertEquals(perSecond * seconds, outcomes.size(), "sent");
    List<Traffic.Outcome> failed = outcomes.stream().filter(o -> !o.delivered()).toList();
    assertEquals(List.of(), failed.stream().limit(5).toList(), failed.size() + " of " + outcomes.size()
      + " creates were not answered 201 with the notification delivered");
    Map<String, Integer> counts = Receipts.count(system.logs());
    List<String> ids = outcomes.stream().map(Traffic.Outcome::notificationId).toList();
    Receipts.Tally tally = Receipts.Tally.of(ids, counts, id -> false);
    assertEquals(0, tally.lost(), "lost: " + tally.lostIds().stream().limit(5).toList());
    assertEquals(0, tally.duplicated(), "delivered twice");
    Files.writeString(WORK.resolve("rotation.txt"), String.format("rotation under load: %d creates at %d/s for %d s, "
      + "workload certificates of 30 s; renewals per sidecar during the load %s; not delivered at once: %d; lost: %d; "
      + "twice: %d%n", outcomes.size(), perSecond, seconds, difference(renewalsBefore, renewalsAfter), failed.size(),
      tally.lost(), tally.duplicated()));
  }

  /** Per sidecar, how many times it logged Dapr's "Successfully renewed workload identity". */
  private Map<String, Integer> renewals() throws Exception {
    Map<String, Integer> renewals = new HashMap<>();
    for (String name : system.processes().keySet()) {
      if (name.endsWith("-daprd")) {
        try (Stream<String> lines = Files.lines(system.logs().resolve(name + ".log"))) {
          renewals.put(name, (int) lines.filter(l -> l.contains("Successfully renewed workload identity")).count());
        }
      }
    }
    return renewals;
  }

  private static Map<String, Integer> difference(Map<String, Integer> before, Map<String, Integer> after) {
    Map<String, Integer> during = new java.util.TreeMap<>();
    after.forEach((k, v) -> during.put(k, v - before.getOrDefault(k, 0)));
    return during;
  }

  @Test
  @Order(10)
  void aNewStartHasNewTokensKeepsSentrysRootAndWorks() throws Exception {
    Map<String, String> before = new HashMap<>();
    for (String file : List.of("todo-api.dapr-api-token", "todo-api.app-api-token",
      "notification-service.dapr-api-token", "notification-service.app-api-token")) {
      before.put(file, system.token(file));
    }
    byte[] rootBefore = Files.readAllBytes(ca());

    system.stopAndStartAgain(); // http follows: it asks the system for each port's token at every request

    before.forEach((file, token) -> {
      try {
        assertNotEquals(token, system.token(file), file + " is the same as before the restart");
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    });
    assertArrayEquals(rootBefore, Files.readAllBytes(ca()), "Sentry's root stays from one start to the next");
    assertEquals("delivered", create(system, "after a new start").getJsonObject("notification").getString("status"));
    Http bare = new Http();
    try {
      assertEquals(401, bare.postJson(system.todoSidecarPort(), "/v1.0/invoke/notification-service/method/notify",
        new JsonObject(), "dapr-api-token", before.get("todo-api.dapr-api-token")).statusCode(),
        "the last start's token no longer opens the sidecar");
    } finally {
      bare.close();
    }
    assertNull(insecure.token("todo-api.dapr-api-token"), "the control runs without tokens");
  }
}
