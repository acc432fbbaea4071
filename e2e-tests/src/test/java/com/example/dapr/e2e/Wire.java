package com.example.dapr.e2e;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What a sidecar's internal gRPC port (daprd to daprd) shows to a client on the wire: a TLS client that trusts
 * Sentry's root but has no certificate of its own, and a plaintext HTTP/2 (h2c) client.
 */
final class Wire {

  private static final byte[] H2_PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  /** An empty SETTINGS frame: length 0, type 4, no flags, stream 0. */
  private static final byte[] EMPTY_SETTINGS = {0, 0, 0, 4, 0, 0, 0, 0, 0};

  private Wire() {
  }

  /**
   * A TLS 1.3 handshake (ALPN h2) without a client certificate: the chain the server presented, verified against
   * {@code caPem} (Sentry's ca.crt), the protocol it chose, and how the server refused to go on, if it did.
   */
  record TlsProbe(List<X509Certificate> chain, String alpn, String refusal) {
    X509Certificate leaf() {
      return chain.get(0);
    }

    /** The leaf's URI subject alternative names (a SPIFFE id for Dapr). */
    List<String> uris() throws Exception {
      List<String> uris = new ArrayList<>();
      for (List<?> san : leaf().getSubjectAlternativeNames()) {
        if ((Integer) san.get(0) == 6) {
          uris.add((String) san.get(1));
        }
      }
      return uris;
    }
  }

  static TlsProbe tls(int port, Path caPem) throws Exception {
    return tls("127.0.0.1", port, caPem);
  }

  /** The same to {@code host}: loopback, or a pod on the test cluster's own bridge ({@code ClusterK8s}). */
  static TlsProbe tls(String host, int port, Path caPem) throws Exception {
    X509Certificate ca;
    try (InputStream in = Files.newInputStream(caPem)) {
      ca = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
    KeyStore trusted = KeyStore.getInstance("PKCS12");
    trusted.load(null, null);
    trusted.setCertificateEntry("sentry-root", ca);
    TrustManagerFactory trust = TrustManagerFactory.getInstance("PKIX");
    trust.init(trusted);
    SSLContext context = SSLContext.getInstance("TLSv1.3");
    context.init(null, trust.getTrustManagers(), null);
    try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(host, port)) {
      SSLParameters parameters = socket.getSSLParameters();
      parameters.setApplicationProtocols(new String[] {"h2"});
      socket.setSSLParameters(parameters);
      socket.setSoTimeout(5_000);
      socket.startHandshake(); // verifies the server's chain against Sentry's root, or throws
      List<X509Certificate> chain = Arrays.stream(socket.getSession().getPeerCertificates())
        .map(X509Certificate.class::cast).toList();
      String alpn = socket.getApplicationProtocol();
      String refusal;
      try {
        // TLS 1.3: the server asks for a certificate, gets none, and answers with its alert after the handshake.
        int read = socket.getInputStream().read();
        refusal = read < 0 ? "closed without an alert" : null;
      } catch (SocketTimeoutException e) {
        refusal = null;
      } catch (IOException e) {
        refusal = e.getMessage();
      }
      return new TlsProbe(chain, alpn, refusal);
    }
  }

  /**
   * Sends the HTTP/2 client preface and an empty SETTINGS frame in plaintext, and answers the first bytes the server
   * sent back within 3 s (empty when it sent nothing or closed).
   */
  static byte[] plaintextH2(int port) throws IOException {
    return plaintextH2("127.0.0.1", port);
  }

  static byte[] plaintextH2(String host, int port) throws IOException {
    try (Socket socket = new Socket(host, port)) {
      socket.setSoTimeout(3_000);
      socket.getOutputStream().write(H2_PREFACE);
      socket.getOutputStream().write(EMPTY_SETTINGS);
      socket.getOutputStream().flush();
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      byte[] buffer = new byte[64];
      try {
        int n;
        while (received.size() < 9 && (n = socket.getInputStream().read(buffer)) > 0) {
          received.write(buffer, 0, n);
        }
      } catch (SocketTimeoutException | java.net.SocketException e) {
        // nothing more
      }
      return received.toByteArray();
    }
  }

  /** Whether {@code bytes} begin with an HTTP/2 frame of type SETTINGS: the server preface of an h2c server. */
  static boolean isH2ServerPreface(byte[] bytes) {
    return bytes.length >= 9 && bytes[3] == 0x04 && bytes[5] == 0 && bytes[6] == 0 && bytes[7] == 0 && bytes[8] == 0;
  }
}
