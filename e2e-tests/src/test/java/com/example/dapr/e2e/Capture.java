package com.example.dapr.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A packet capture on the loopback interface with Debian's tcpdump, limited to the given TCP ports, written to a pcap
 * file; it stops by itself after {@code maxSeconds} if {@link #stop} is not called first.
 */
final class Capture implements AutoCloseable {

  private final Process tcpdump;
  private final Path file;
  private final int firstPort;

  private Capture(Process tcpdump, Path file, int firstPort) {
    this.tcpdump = tcpdump;
    this.file = file;
    this.firstPort = firstPort;
  }

  static Capture start(Path file, List<Integer> ports, int maxSeconds) throws Exception {
    Files.deleteIfExists(file);
    String filter = "tcp and (" + ports.stream().map(p -> "port " + p).collect(Collectors.joining(" or ")) + ")";
    List<String> command = new ArrayList<>(List.of("timeout", String.valueOf(maxSeconds), "tcpdump", "-i", "lo",
      "-n", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", file.toString(), filter));
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    // tcpdump says "listening on lo" once the capture runs; nothing sent before that would be seen.
    BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    StringBuilder said = new StringBuilder();
    String line;
    while ((line = out.readLine()) != null) {
      said.append(line).append('\n');
      if (line.contains("listening on lo")) {
        Thread drain = new Thread(() -> out.lines().forEach(l -> { }), "tcpdump-output");
        drain.setDaemon(true);
        drain.start();
        return new Capture(process, file, ports.get(0));
      }
    }
    throw new IllegalStateException("tcpdump did not start (" + String.join(" ", command) + "): " + said
      + "; scripts/test.sh installs it (Debian package tcpdump)");
  }

  /**
   * Stops the capture once it has written everything sent before this call, and answers what it captured, without
   * the marker. The marker: a connection to the first port that sends a line of its own, in clear; tcpdump writes
   * packets in the order the kernel saw them (--immediate-mode, -U: each as it comes), so once the marker is in the
   * file, so is everything before it. Then SIGTERM (tcpdump writes out what it has).
   */
  Packets stop() throws Exception {
    String marker = "capture-marker-" + java.util.UUID.randomUUID();
    int markerPort;
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", firstPort)) {
      markerPort = socket.getLocalPort();
      socket.getOutputStream().write((marker + "\n").getBytes(StandardCharsets.UTF_8));
      socket.getOutputStream().flush();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!Packets.read(file, -1).contains(marker)) {
      if (System.nanoTime() > deadline || !tcpdump.isAlive()) {
        throw new IllegalStateException("tcpdump did not write the capture's marker to " + file + " within 60 s");
      }
      Thread.sleep(50);
    }
    tcpdump.destroy();
    if (!tcpdump.waitFor(10, TimeUnit.SECONDS)) {
      tcpdump.destroyForcibly();
    }
    return Packets.read(file, markerPort);
  }

  @Override
  public void close() {
    tcpdump.destroyForcibly();
  }

  /** The packets of a pcap file: how many, and all their bytes one after the other (headers included). */
  record Packets(int count, long tcpPayloadBytes, byte[] bytes) {

    /** The packets of {@code file}, less those to or from TCP port {@code excludedPort} (-1: none). */
    static Packets read(Path file, int excludedPort) throws IOException {
      ByteBuffer pcap = ByteBuffer.wrap(Files.readAllBytes(file));
      if (pcap.limit() < 24) {
        return new Packets(0, 0, new byte[0]); // not even the file header written yet
      }
      int magic = pcap.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
      if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
        pcap.order(ByteOrder.BIG_ENDIAN);
      }
      int linkType = pcap.getInt(20);
      int position = 24;
      int count = 0;
      long payload = 0;
      java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
      while (position + 16 <= pcap.limit()) {
        int captured = pcap.getInt(position + 8);
        int start = position + 16;
        if (start + captured > pcap.limit()) {
          break;
        }
        position = start + captured;
        if (excludedPort >= 0 && hasPort(pcap, start, linkType, excludedPort)) {
          continue;
        }
        all.write(pcap.array(), start, captured);
        payload += tcpPayload(pcap, start, captured, linkType);
        count++;
      }
      return new Packets(count, payload, all.toByteArray());
    }

    /** Whether the TCP segment of the frame at {@code start} is from or to {@code port}. */
    private static boolean hasPort(ByteBuffer pcap, int start, int linkType, int port) {
      int ip = start + (linkType == 1 ? 14 : 0);
      int tcp = ip + (((pcap.get(ip) & 0xf0) >> 4) == 4 ? (pcap.get(ip) & 0x0f) * 4 : 40);
      return (pcap.getShort(tcp) & 0xffff) == port || (pcap.getShort(tcp + 2) & 0xffff) == port;
    }

    /** Length of the TCP payload of one frame (Ethernet, as tcpdump gives loopback, or raw IP), IPv4 or IPv6. */
    private static int tcpPayload(ByteBuffer pcap, int start, int length, int linkType) {
      int ip = start + (linkType == 1 ? 14 : 0);
      int version = (pcap.get(ip) & 0xf0) >> 4;
      int ipHeader;
      int total;
      if (version == 4) {
        ipHeader = (pcap.get(ip) & 0x0f) * 4;
        total = pcap.getShort(ip + 2) & 0xffff;
      } else {
        ipHeader = 40;
        total = 40 + (pcap.getShort(ip + 4) & 0xffff);
      }
      int tcpHeader = ((pcap.get(ip + ipHeader + 12) & 0xf0) >> 4) * 4;
      return Math.max(0, total - ipHeader - tcpHeader);
    }

    boolean contains(String text) {
      byte[] needle = text.getBytes(StandardCharsets.UTF_8);
      outer:
      for (int i = 0; i + needle.length <= bytes.length; i++) {
        for (int j = 0; j < needle.length; j++) {
          if (bytes[i + j] != needle[j]) {
            continue outer;
          }
        }
        return true;
      }
      return false;
    }
  }
}
