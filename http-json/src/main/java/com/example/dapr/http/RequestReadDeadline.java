package com.example.dapr.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.ByteProcessor;
import io.netty.util.concurrent.ScheduledFuture;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.Context;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Logger;

/**
 * A bound on how long a request may take to arrive, from its first byte to its last (request line, headers and body):
 * past it, the request is answered {@code 408 REQUEST_TIMEOUT} (JSON) and its connection is closed.
 * <p>
 * Between requests there is no bound: a keep-alive connection with nothing arriving is never closed by the server.
 * Dapr's sidecar keeps up to 64 idle connections to its app (pkg/runtime/channels/channels.go:356, Go's transport)
 * and reuses them; a server that closes idle ones races with that reuse and fails calls (dapr/dapr#7832). So this is
 * not an idle timeout: the clock starts at a request's first byte and stops when its last has arrived, which is Go's
 * {@code ReadHeaderTimeout} (daprd's own API server: 10 s, pkg/api/http/server.go:154) stretched over the body.
 * A connection accepted and never written to is idle too: Go's transport puts a connection it dialed for a request
 * that went out on another into its idle pool unused (net/http transport.go, {@code dialConnFor}).
 * <p>
 * Vert.x offers no hook before a request's headers are decoded, so two Netty handlers go around the connection's
 * decoder: the bytes before it start the clock, the decoded messages after it (the request, its last content) move it
 * on and stop it. A request whose headers arrived is answered through Vert.x, so its metrics and span end with the
 * 408; one whose headers did not has no Vert.x request, and gets the same JSON written on the socket.
 * <p>
 * While the server is still answering an earlier request on the connection (HTTP pipelining), the next request waits
 * for the server, not the other way round: its bound starts again. The first bytes of a next request that came in the
 * same read as the end of the previous one, with nothing after them, wait like an idle connection: Netty's decoder
 * does not tell that it holds them.
 */
final class RequestReadDeadline {

  private static final Logger LOG = Logger.getLogger(RequestReadDeadline.class.getName());
  private static final AttributeKey<Watch> WATCH = AttributeKey.valueOf(RequestReadDeadline.class, "watch");
  /**
   * What a connection may send between requests without starting one: the empty lines a server is to ignore before a
   * request line (RFC 9112, section 2.2), and the other bytes Netty's decoder skips there.
   */
  private static final ByteProcessor BEFORE_A_REQUEST = b -> Character.isISOControl((char) (b & 0xff))
    || Character.isWhitespace((char) (b & 0xff));

  private final long boundMs;
  private final long boundNanos;
  private final byte[] rawAnswer;
  private final Counter headersTimedOut;
  private final Counter bodiesTimedOut;
  private final AtomicLong lastLogNanos = new AtomicLong(System.nanoTime() - TimeUnit.SECONDS.toNanos(1));
  private final AtomicInteger unlogged = new AtomicInteger();

  RequestReadDeadline(long boundMs) {
    this.boundMs = boundMs;
    this.boundNanos = TimeUnit.MILLISECONDS.toNanos(boundMs);
    String body = timeout("its request line and headers").toJson().encode();
    this.rawAnswer = ("HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nContent-Length: "
      + body.getBytes(StandardCharsets.UTF_8).length + "\r\nConnection: close\r\n\r\n" + body)
      .getBytes(StandardCharsets.UTF_8);
    headersTimedOut = timeouts("headers");
    bodiesTimedOut = timeouts("body");
  }

  private static Counter timeouts(String phase) {
    return Counter.builder("http_server_request_read_timeouts")
      .description("Requests that did not arrive within " + ServiceHttpServer.REQUEST_READ_TIMEOUT_MS
        + ", by the part that stopped coming")
      .tag("phase", phase).register(Observability.registry());
  }

  /** For {@code HttpServer.connectionHandler}: watches each HTTP/1.1 connection from its accept. */
  void watch(HttpConnection connection) {
    Channel channel = channel(connection);
    ChannelPipeline pipeline = channel.pipeline();
    if (pipeline.get("httpDecoder") == null) {
      return;
    }
    Watch watch = new Watch(channel, connection);
    channel.attr(WATCH).set(watch);
    pipeline.addBefore("httpDecoder", "requestReadStart", watch.bytes);
    pipeline.addAfter("httpDecoder", "requestReadProgress", watch.messages);
  }

  /** {@code handler}, told first which Vert.x request is the connection's current one. */
  Handler<HttpServerRequest> watching(Handler<HttpServerRequest> handler) {
    return request -> {
      Watch watch = channel(request.connection()).attr(WATCH).get();
      if (watch != null) {
        watch.handed(request, Vertx.currentContext());
      }
      handler.handle(request);
    };
  }

  /**
   * The connection's channel. Vert.x 5 gives it only through its implementation ({@code HttpServerConnection} of
   * {@code io.vertx.core.http.impl}, what Vert.x's own HTTP server hands to connection handlers).
   */
  private static Channel channel(HttpConnection connection) {
    if (connection instanceof io.vertx.core.http.impl.HttpServerConnection server) {
      return server.channelHandlerContext().channel();
    }
    throw new IllegalStateException("not a connection of Vert.x's HTTP server: " + connection.getClass().getName());
  }

  private ApiException timeout(String what) {
    return new ApiException(408, "REQUEST_TIMEOUT", "the request did not arrive within " + boundMs
      + " ms of its first byte: " + what + " stopped coming (" + ServiceHttpServer.REQUEST_READ_TIMEOUT_MS + ")");
  }

  /** At most one line a second, however many connections are closed: many at once is what an attack looks like. */
  private void log(String line) {
    long now = System.nanoTime();
    long last = lastLogNanos.get();
    if (now - last < TimeUnit.SECONDS.toNanos(1) || !lastLogNanos.compareAndSet(last, now)) {
      unlogged.incrementAndGet();
      return;
    }
    int others = unlogged.getAndSet(0);
    LOG.warning(line + (others == 0 ? "" : " (and " + others + " more since the last such line)"));
  }

  private enum Phase { IDLE, HEADERS, BODY }

  /** One connection's clock; every method runs on the connection's event loop. */
  private final class Watch {

    private final Channel channel;
    private final HttpConnection connection;
    /** Where the raw 408 is written from: before the HTTP encoder, which takes only HTTP messages. */
    private ChannelHandlerContext beforeDecoder;
    private Phase phase = Phase.IDLE;
    private long startNanos;
    private ScheduledFuture<?> timer;
    /** Requests decoded, and handed to the request handler: they differ while one waits behind another's answer. */
    private long decoded;
    private long handed;
    private HttpServerRequest current;
    private Context currentContext;

    private final ChannelInboundHandlerAdapter bytes = new ChannelInboundHandlerAdapter() {
      @Override
      public void handlerAdded(ChannelHandlerContext ctx) {
        beforeDecoder = ctx;
      }

      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (phase == Phase.IDLE && msg instanceof ByteBuf buf && buf.forEachByte(BEFORE_A_REQUEST) >= 0) {
          begin();
        }
        ctx.fireChannelRead(msg);
      }

      /** The clock is armed only for a request still arriving after a read: most arrive in one. */
      @Override
      public void channelReadComplete(ChannelHandlerContext ctx) {
        if (phase != Phase.IDLE && timer == null) {
          schedule(startNanos + boundNanos - System.nanoTime());
        }
        ctx.fireChannelReadComplete();
      }

      @Override
      public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
      }
    };

    private final ChannelInboundHandlerAdapter messages = new ChannelInboundHandlerAdapter() {
      @Override
      public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request && request.decoderResult().isSuccess()) {
          if (phase == Phase.IDLE) {
            begin();
          }
          phase = Phase.BODY;
          decoded++;
        }
        if (msg instanceof LastHttpContent) {
          phase = Phase.IDLE;
          cancel();
        }
        ctx.fireChannelRead(msg);
      }
    };

    Watch(Channel channel, HttpConnection connection) {
      this.channel = channel;
      this.connection = connection;
    }

    void handed(HttpServerRequest request, Context context) {
      handed++;
      current = request;
      currentContext = context;
    }

    private void begin() {
      phase = Phase.HEADERS;
      startNanos = System.nanoTime();
    }

    private void schedule(long delayNanos) {
      timer = channel.eventLoop().schedule(this::expire, Math.max(0, delayNanos), TimeUnit.NANOSECONDS);
    }

    private void cancel() {
      if (timer != null) {
        timer.cancel(false);
        timer = null;
      }
    }

    private boolean answering() {
      return current != null && !current.response().ended();
    }

    private void expire() {
      timer = null;
      if (phase == Phase.IDLE || !channel.isActive()) {
        return;
      }
      if (phase == Phase.HEADERS ? answering() : decoded != handed) {
        schedule(boundNanos);
        return;
      }
      if (phase == Phase.HEADERS) {
        timeOutHeaders();
      } else {
        timeOutBody(current);
      }
    }

    /** No Vert.x request yet: the JSON of the 408, written on the socket. */
    private void timeOutHeaders() {
      headersTimedOut.increment();
      // Not writable: the client reads nothing, and Vert.x may hold answers it could not write yet.
      boolean answer = channel.isWritable();
      log((answer ? "answered 408 and closed the connection from " : "closed the connection from ")
        + connection.remoteAddress() + ": a request's line and headers did not arrive within " + boundMs + " ms ("
        + ServiceHttpServer.REQUEST_READ_TIMEOUT_MS + ")");
      if (answer) {
        beforeDecoder.writeAndFlush(Unpooled.wrappedBuffer(rawAnswer)).addListener(ChannelFutureListener.CLOSE);
      } else {
        channel.close();
      }
    }

    /** Answered on the request's context, where Vert.x keeps its span: its log line carries its trace id. */
    private void timeOutBody(HttpServerRequest request) {
      currentContext.runOnContext(v -> {
        if (phase != Phase.BODY || current != request || !channel.isActive()) {
          return;
        }
        bodiesTimedOut.increment();
        boolean answer = !request.response().headWritten() && channel.isWritable();
        log((answer ? "answered 408 to " : "closed the connection of ") + request.method() + " " + request.path()
          + " from " + connection.remoteAddress() + ": its body did not arrive within " + boundMs + " ms ("
          + ServiceHttpServer.REQUEST_READ_TIMEOUT_MS + ")" + (answer ? "; closed its connection" : ""));
        if (!answer) {
          channel.close();
          return;
        }
        // Answered: the body's reader (Vert.x Web's BodyHandler) is not to fail the request again when it closes.
        request.exceptionHandler(closed -> { });
        JsonErrors.write(request.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE),
          timeout("its body")).onComplete(done -> channel.close());
      });
    }
  }
}
