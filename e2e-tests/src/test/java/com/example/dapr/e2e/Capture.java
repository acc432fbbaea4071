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

  private Capture(Process tcpdump, Path file) {
    this.tcpdump = tcpdump;
    this.file = file;
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
        return new Capture(process, file);
      }
    }
    throw new IllegalStateException("tcpdump did not start (" + String.join(" ", command) + "): " + said
      + "; scripts/test.sh installs it (Debian package tcpdump)");
  }

  /**
   * Stops the capture a second after the last traffic (SIGTERM: tcpdump writes out what it has) and answers what it
   * captured. tcpdump runs with --immediate-mode, without which libpcap hands packets over in blocks, and a stop drops
   * the last block.
   */
  Packets stop() throws Exception {
    Thread.sleep(1_000); // what the kernel captured last reaches tcpdump
    tcpdump.destroy();
    if (!tcpdump.waitFor(10, TimeUnit.SECONDS)) {
      tcpdump.destroyForcibly();
    }
    return Packets.read(file);
  }

  @Override
  public void close() {
    tcpdump.destroyForcibly();
  }

  /** The packets of a pcap file: how many, and all their bytes one after the other (headers included). */
  record Packets(int count, long tcpPayloadBytes, byte[] bytes) {

    static Packets read(Path file) throws IOException {
      ByteBuffer pcap = ByteBuffer.wrap(Files.readAllBytes(file));
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
        all.write(pcap.array(), start, captured);
        payload += tcpPayload(pcap, start, captured, linkType);
        count++;
        position = start + captured;
      }
      return new Packets(count, payload, all.toByteArray());
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
