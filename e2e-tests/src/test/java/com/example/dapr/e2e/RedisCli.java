package com.example.dapr.e2e;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Debian's {@code redis-cli} against a system's redis-server on loopback, to look at what Dapr stored. */
final class RedisCli {

  private RedisCli() {
  }

  /** Runs one command ({@code args}) and answers what redis-cli printed, trimmed. */
  static String run(int port, String... args) throws IOException, InterruptedException {
    return cli(port, null, args);
  }

  /** Runs the commands of {@code script}, one a line, and answers what redis-cli printed. */
  static String runScript(int port, String script) throws IOException, InterruptedException {
    return cli(port, script);
  }

  private static String cli(int port, String stdin, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("redis-cli", "-p", String.valueOf(port)));
    command.addAll(List.of(args));
    Process cli = new ProcessBuilder(command).redirectErrorStream(true).start();
    if (stdin != null) {
      cli.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    cli.getOutputStream().close();
    String out = new String(cli.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    if (!cli.waitFor(30, TimeUnit.SECONDS)) {
      cli.destroyForcibly();
      throw new IllegalStateException("redis-cli " + String.join(" ", args) + " did not finish in 30 s");
    }
    return out;
  }
}
