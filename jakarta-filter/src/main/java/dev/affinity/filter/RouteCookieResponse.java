package dev.affinity.filter;

import dev.affinity.cookie.SetCookie;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adds the route cookies before anything can commit the response: before a redirect, an error, a
 * flush, the first byte of the body, a content length, an asynchronous completion, and at the end of
 * the filter chain. Writing is idempotent: a cookie already among the response's {@code Set-Cookie}
 * headers is not added again, and one the container dropped (by {@code reset()}) is added again.
 */
final class RouteCookieResponse extends HttpServletResponseWrapper {
  private static final Logger LOG = LoggerFactory.getLogger(RouteCookieResponse.class);
  private static final String SET_COOKIE = "Set-Cookie";

  private final Affinity affinity;
  private volatile boolean outputStarted;
  private ServletOutputStream outputStream;
  private PrintWriter writer;

  RouteCookieResponse(HttpServletResponse response, Affinity affinity) {
    super(response);
    this.affinity = affinity;
  }

  boolean outputStarted() {
    return outputStarted;
  }

  /**
   * Adds the cookies for the request's current decision, and for its session (written through first,
   * in cookie or redis mode), unless the response is committed.
   */
  void writeCookies() {
    affinity.applyRecordedDecision();
    List<SetCookie> route = affinity.route().cookies();
    List<SetCookie> cookies = route;
    List<SetCookie> session = isCommitted() ? List.of() : affinity.sessionCookies();
    if (!session.isEmpty()) {
      List<SetCookie> all = new ArrayList<>(cookies.size() + session.size());
      all.addAll(cookies);
      all.addAll(session);
      cookies = all;
    }
    if (cookies.isEmpty()) {
      return;
    }
    synchronized (this) {
      if (isCommitted()) {
        if (missing(cookies)) {
          LOG.warn("response to {} committed before the route cookie could be added; the pin is lost",
              affinity.targetId());
        }
        return;
      }
      Collection<String> present = getHeaders(SET_COOKIE);
      for (int i = 0, n = cookies.size(); i < n; i++) {
        SetCookie cookie = cookies.get(i);
        if (!contains(present, cookie)) {
          super.addCookie(ServletCookies.toServlet(cookie));
        }
      }
    }
    if (!route.isEmpty()) {
      affinity.routeCookiesWritten();
    }
  }

  private boolean missing(List<SetCookie> cookies) {
    Collection<String> present = getHeaders(SET_COOKIE);
    for (SetCookie cookie : cookies) {
      if (!contains(present, cookie)) {
        return true;
      }
    }
    return false;
  }

  private static boolean contains(Collection<String> headers, SetCookie cookie) {
    if (headers == null) {
      return false;
    }
    String name = cookie.name();
    String value = cookie.value();
    for (String header : headers) {
      if (header.length() > name.length() + value.length() && header.startsWith(name)
          && header.charAt(name.length()) == '=' && header.startsWith(value, name.length() + 1)) {
        char next = header.length() == name.length() + 1 + value.length()
            ? ';' : header.charAt(name.length() + 1 + value.length());
        if (next == ';' || next == ' ') {
          return true;
        }
      }
    }
    return false;
  }

  private void beforeOutput() {
    if (!outputStarted) {
      writeCookies();
      outputStarted = true;
    }
  }

  @Override
  public void sendRedirect(String location) throws IOException {
    writeCookies();
    super.sendRedirect(location);
  }

  // Servlet 6.1's overloads: the wrapper passes each straight to the wrapped response, past the one
  // above. A 6.0 container never calls them.

  @Override
  public void sendRedirect(String location, int sc) throws IOException {
    writeCookies();
    super.sendRedirect(location, sc);
  }

  @Override
  public void sendRedirect(String location, boolean clearBuffer) throws IOException {
    writeCookies();
    super.sendRedirect(location, clearBuffer);
  }

  @Override
  public void sendRedirect(String location, int sc, boolean clearBuffer) throws IOException {
    writeCookies();
    super.sendRedirect(location, sc, clearBuffer);
  }

  @Override
  public void sendError(int sc) throws IOException {
    writeCookies();
    super.sendError(sc);
  }

  @Override
  public void sendError(int sc, String msg) throws IOException {
    writeCookies();
    super.sendError(sc, msg);
  }

  @Override
  public void flushBuffer() throws IOException {
    beforeOutput();
    super.flushBuffer();
  }

  @Override
  public void setContentLength(int len) {
    // A buffer filled to the content length commits the response.
    writeCookies();
    super.setContentLength(len);
  }

  @Override
  public void setContentLengthLong(long len) {
    writeCookies();
    super.setContentLengthLong(len);
  }

  @Override
  public void reset() {
    super.reset();
    // The container dropped our Set-Cookie headers with the others: the next trigger adds them again.
    outputStarted = false;
  }

  @Override
  public synchronized ServletOutputStream getOutputStream() throws IOException {
    if (outputStream == null) {
      outputStream = new GuardedOutputStream(super.getOutputStream());
    }
    return outputStream;
  }

  @Override
  public synchronized PrintWriter getWriter() throws IOException {
    if (writer == null) {
      PrintWriter container = super.getWriter();
      writer = new PrintWriter(new GuardedWriter(container), false) {
        @Override
        public boolean checkError() {
          // The container's writer swallows I/O errors too; report them as it would.
          return super.checkError() || container.checkError();
        }
      };
    }
    return writer;
  }

  /** Writes the cookies before the first byte, flush or close of the body. */
  private final class GuardedOutputStream extends ServletOutputStream {
    private final ServletOutputStream out;

    GuardedOutputStream(ServletOutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      beforeOutput();
      out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      beforeOutput();
      out.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
      beforeOutput();
      out.flush();
    }

    @Override
    public void close() throws IOException {
      beforeOutput();
      out.close();
    }

    @Override
    public boolean isReady() {
      return out.isReady();
    }

    @Override
    public void setWriteListener(WriteListener writeListener) {
      out.setWriteListener(writeListener);
    }
  }

  /** Writes the cookies before the first character, flush or close of the body. */
  private final class GuardedWriter extends Writer {
    private final PrintWriter out;

    GuardedWriter(PrintWriter out) {
      this.out = out;
    }

    @Override
    public void write(char[] cbuf, int off, int len) throws IOException {
      beforeOutput();
      out.write(cbuf, off, len);
    }

    @Override
    public void write(String str, int off, int len) throws IOException {
      beforeOutput();
      out.write(str, off, len);
    }

    @Override
    public void write(int c) throws IOException {
      beforeOutput();
      out.write(c);
    }

    @Override
    public void flush() throws IOException {
      beforeOutput();
      out.flush();
    }

    @Override
    public void close() {
      beforeOutput();
      out.close();
    }
  }
}
