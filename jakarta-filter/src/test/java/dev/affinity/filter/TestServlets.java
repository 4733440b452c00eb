package dev.affinity.filter;

import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;

/** The servlets of the test web application, declared by name in its generated {@code web.xml}. */
final class TestServlets {
  private TestServlets() {}

  /** More than any container's default response buffer (Jetty 32 KB, Tomcat 8 KB): writing it commits. */
  static final int BIG = 100_000;

  static byte[] big() {
    byte[] bytes = new byte[BIG];
    Arrays.fill(bytes, (byte) 'x');
    return bytes;
  }

  /** {@code /pin?duration=PT5M&to=app-2}: pins here (or moves to {@code to}). */
  public static final class Pin extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity affinity = Affinity.current(req);
      String to = req.getParameter("to");
      String duration = req.getParameter("duration");
      if (to != null) {
        affinity.moveTo(to);
      } else if (duration != null) {
        affinity.pin(Duration.parse(duration));
      } else {
        affinity.pin();
      }
      resp.setContentType("text/plain");
      resp.getWriter().print("pinned to " + affinity.pinnedTarget().orElse("-"));
    }
  }

  /** {@code /release}: releases the pin. */
  public static final class Release extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity affinity = Affinity.current(req);
      affinity.release();
      resp.getWriter().print("released");
    }
  }

  /** {@code /whoami}: this target, the pin the client carries, and the previous target. */
  public static final class WhoAmI extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity affinity = Affinity.current(req);
      resp.setContentType("text/plain");
      resp.getWriter().print("target=" + affinity.targetId()
          + " pinned=" + affinity.pinnedTarget().orElse("-")
          + " previous=" + affinity.previousTarget().orElse("-")
          + " dispatch=" + req.getDispatcherType());
    }
  }

  /** {@code /redirect}: pins, then redirects. */
  public static final class Redirect extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity.current(req).pin();
      resp.sendRedirect("/whoami");
    }
  }

  /**
   * {@code /redirect61}: pins, then redirects with Servlet 6.1's {@code sendRedirect(location, 303, true)}.
   * Mapped everywhere but requested only on 6.1 containers (jakarta-filter-servlet61).
   */
  public static final class Redirect61 extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity.current(req).pin();
      resp.sendRedirect("/whoami", HttpServletResponse.SC_SEE_OTHER, true);
    }
  }

  /**
   * {@code /flush?mode=…}: pins, then commits the response in one of several ways:
   * {@code flush} (flushBuffer with an empty body), {@code stream} and {@code writer} (a body larger
   * than the buffer), {@code length} (a content length the first write fills), {@code late} (writes,
   * pins after the first byte, then flushes).
   */
  public static final class Flush extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Affinity affinity = Affinity.current(req);
      String mode = String.valueOf(req.getParameter("mode"));
      if (!mode.equals("late")) {
        affinity.pin();
      }
      resp.setContentType("text/plain");
      switch (mode) {
        case "flush":
          resp.flushBuffer();
          break;
        case "stream": {
          ServletOutputStream out = resp.getOutputStream();
          out.write(big());
          break;
        }
        case "writer":
          resp.getWriter().write(new String(big(), StandardCharsets.US_ASCII));
          break;
        case "length": {
          byte[] body = "exactly this".getBytes(StandardCharsets.US_ASCII);
          resp.setContentLength(body.length);
          resp.getOutputStream().write(body);
          break;
        }
        case "late":
          resp.getWriter().print("first ");
          affinity.pin();
          resp.getWriter().print("then pinned");
          resp.flushBuffer();
          break;
        default:
          throw new IllegalArgumentException("mode " + mode);
      }
      // Whatever the mode, the response is committed by now.
      if (!resp.isCommitted()) {
        throw new IllegalStateException("mode " + mode + " did not commit");
      }
    }
  }

  /**
   * {@code /async?mode=…}: starts async; on another thread pins, then {@code complete} (writes and
   * completes), {@code bare} (completes with no body), or {@code dispatch} (dispatches to /whoami).
   */
  public static final class Async extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) {
      Affinity affinity = Affinity.current(req);
      String mode = String.valueOf(req.getParameter("mode"));
      AsyncContext async = req.startAsync();
      async.start(() -> {
        try {
          affinity.pin(Duration.ofMinutes(5));
          switch (mode) {
            case "dispatch":
              async.dispatch("/whoami");
              return;
            case "bare":
              async.complete();
              return;
            default:
              async.getResponse().getWriter().print("async " + affinity.pinnedTarget().orElse("-"));
              async.complete();
          }
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    }
  }

  /** {@code /error?mode=…}: pins, then {@code send} (sendError 503) or {@code throw} (an exception). */
  public static final class Error extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException, ServletException {
      Affinity.current(req).pin();
      if ("throw".equals(req.getParameter("mode"))) {
        throw new ServletException("test failure");
      }
      resp.sendError(503, "test error");
    }
  }

  /** The web application's error page. */
  public static final class ErrorPage extends HttpServlet {
    @Override
    protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      resp.setContentType("text/plain");
      resp.getWriter().print("error page " + req.getAttribute("jakarta.servlet.error.status_code"));
    }
  }

  /** {@code /cdi?op=checkout|logout}: calls a CDI bean whose methods carry {@link Sticky} / {@link ReleaseAffinity}. */
  public static final class Cdi extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      Shop shop = jakarta.enterprise.inject.spi.CDI.current().select(Shop.class).get();
      resp.getWriter().print("logout".equals(req.getParameter("op")) ? shop.logout() : shop.checkout());
    }
  }

  /** {@code /session}: creates a session. */
  public static final class Session extends HttpServlet {
    @Override
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      boolean isNew = req.getSession(true).isNew();
      resp.getWriter().print("session new=" + isNew + " pinned=" + Affinity.current(req).pinnedTarget().orElse("-"));
    }
  }

  /** Not on the session class allow-list. */
  static final class NotAllowed implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
  }

  /**
   * {@code /cart/…}, the classic sticky-session case: {@code add?item=N} (appends "item-N" to a List in
   * the session), {@code list}, {@code big?bytes=N} (sets a byte array; 413 with the message when over
   * the limit), {@code evil} (a class not allowed; 400), {@code rotate} (changeSessionId),
   * {@code invalidate}, {@code info}. Each answers "target=… items=… id=… new=…".
   */
  public static final class Cart extends HttpServlet {
    @Override
    @SuppressWarnings("unchecked")
    protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
      String op = String.valueOf(req.getPathInfo()).substring(1);
      resp.setContentType("text/plain");
      jakarta.servlet.http.HttpSession session = req.getSession(!op.equals("list") && !op.equals("info"));
      String extra = "";
      switch (op) {
        case "add": {
          java.util.List<String> cart = (java.util.List<String>) session.getAttribute("cart");
          if (cart == null) {
            cart = new java.util.ArrayList<>();
          }
          cart.add("item-" + req.getParameter("item"));
          session.setAttribute("cart", cart);
          break;
        }
        case "big":
          try {
            session.setAttribute("big", new byte[Integer.parseInt(req.getParameter("bytes"))]);
          } catch (IllegalStateException e) {
            resp.setStatus(413);
            resp.getWriter().print(e.getMessage());
            return;
          }
          break;
        case "evil":
          try {
            session.setAttribute("evil", new NotAllowed());
          } catch (IllegalArgumentException e) {
            resp.setStatus(400);
            resp.getWriter().print(e.getMessage());
            return;
          }
          break;
        case "rotate":
          extra = " old=" + session.getId() + " changed=" + req.changeSessionId();
          break;
        case "invalidate":
          session.invalidate();
          resp.getWriter().print("invalidated");
          return;
        case "info":
          extra = " requested=" + req.getRequestedSessionId() + " valid=" + req.isRequestedSessionIdValid();
          break;
        default:
          break;
      }
      java.util.List<String> cart = session == null ? null : (java.util.List<String>) session.getAttribute("cart");
      resp.getWriter().print("target=" + Affinity.current(req).targetId()
          + " items=" + (cart == null ? 0 : cart.size())
          + " id=" + (session == null ? "-" : session.getId())
          + " new=" + (session != null && session.isNew()) + extra
          + (cart == null ? "" : " cart=" + String.join(",", cart)));
    }
  }
}
