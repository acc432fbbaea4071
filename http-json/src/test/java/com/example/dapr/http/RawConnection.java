package com.example.dapr.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * One TCP connection that sends bytes as given, for what an HTTP client will not send: half a request, a request
 * line of 5,000 characters. Every read waits at most 30 s, so a server that never answers or never closes fails the
 * test instead of hanging it.
 */
final class RawConnection implements AutoCloseable {

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  RawConnection(int port) throws IOException {
    socket = new Socket(InetAddress.getLoopbackAddress(), port);
    socket.setSoTimeout(30_000);
    socket.setTcpNoDelay(true);
    in = socket.getInputStream();
    out = socket.getOutputStream();
  }

  RawConnection send(String bytes) throws IOException {
    out.write(bytes.getBytes(StandardCharsets.UTF_8));
    out.flush();
    return this;
  }

  /** How many bytes of the server's can be read without waiting. */
  int available() throws IOException {
    return in.available();
  }

  /** Everything the server sends until it closes the connection. */
  String untilClosed() throws IOException {
    return new String(in.readAllBytes(), StandardCharsets.UTF_8);
  }

  /** One whole response: status line, headers, and a body of its Content-Length. */
  String response() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed after " + head.toString(StandardCharsets.ISO_8859_1));
      }
      head.write(b);
    }
    String headers = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring("content-length:".length()).strip());
      }
    }
    return headers + new String(in.readNBytes(length), StandardCharsets.UTF_8);
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
