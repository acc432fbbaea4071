package com.example.dapr.http;

import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.vertx.core.Handler;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;

/**
 * JSON answers for the requests Vert.x refuses before any route sees them: Netty's decoder stops at a request line
 * longer than {@code maxInitialLineLength} (414), headers larger than {@code maxHeaderSize} (431), or bytes that are
 * not HTTP/1.1 (400). Vert.x's own answer ({@code HttpServerRequest.DEFAULT_INVALID_REQUEST_HANDLER}) has the same
 * statuses and an empty body. The connection is closed after the answer, as Vert.x does: the decoder reads nothing
 * more from it.
 */
final class InvalidRequests {

  private InvalidRequests() {
  }

  /** The handler for {@code HttpServer.invalidRequestHandler}, with the limits of {@code options} in its messages. */
  static Handler<HttpServerRequest> handler(HttpServerOptions options) {
    int maxLine = options.getMaxInitialLineLength();
    int maxHeaders = options.getMaxHeaderSize();
    return request -> {
      Throwable cause = request.decoderResult().cause();
      ApiException error;
      if (cause instanceof TooLongHttpLineException) {
        error = new ApiException(414, "URI_TOO_LONG",
          "the request line (method, path and query) is longer than " + maxLine + " bytes");
      } else if (cause instanceof TooLongHttpHeaderException) {
        error = new ApiException(431, "HEADERS_TOO_LARGE", "the request's headers are larger than " + maxHeaders
          + " bytes in all");
      } else {
        error = ApiException.badRequest("BAD_REQUEST", "the request is not valid HTTP/1.1"
          + (cause == null || cause.getMessage() == null ? "" : ": " + cause.getMessage()));
      }
      JsonErrors.write(request.response().putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE), error)
        .onComplete(done -> request.connection().close());
    };
  }
}
