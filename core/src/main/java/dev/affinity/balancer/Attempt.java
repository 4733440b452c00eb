package dev.affinity.balancer;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.SetCookie;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerFieldUpdater;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One try at delivering a client's request to one target: the unit the balancer's policy works on,
 * whatever carries the bytes (a kept-alive relay, an HTTP client, a WebSocket upgrade).
 *
 * <p>Made by {@link Forwarder#begin} for the first try and by {@link #failed} for the next. While it
 * has a target, the target counts it in flight until {@link #finished()} or {@link #failed} (each
 * counted once, whichever comes first, from whichever thread). The adapter's part is small:
 * <ol>
 *   <li>no {@link #target()}: answer as {@link #unavailable()} says;
 *   <li>send to {@link #target()}, with {@link #previousTargetId()} in {@link Forwarder#PREVIOUS_TARGET_HEADER};
 *   <li>when the target's status and headers are in, tell {@link #answered} the status, and add the
 *       cookies it returns to the client's response;
 *   <li>when the whole answer is with the client, {@link #finished()};
 *   <li>when the target failed, {@link #failed} says what comes next: another attempt, an answer, or
 *       cutting the client's response short.
 * </ol>
 *
 * <p>The retry rule, one for every path: an attempt none of whose bytes reached the target (a
 * refused connect) moves to another target whatever the method; a replayable request
 * ({@link Forwarder#isReplayable}) also when the connection closed before the first byte of an answer
 * (once more to the same target if it was a kept-alive connection the target may have closed while
 * idle, else to another target); nothing after a timeout, an unusable answer, or once answer bytes
 * reached the client.
 */
public final class Attempt {
  private static final Logger LOG = LoggerFactory.getLogger(Attempt.class);
  private static final int RETRY_AFTER_SECONDS = 5;
  // A field updater rather than an AtomicBoolean: one object less on every request's hot path.
  private static final AtomicIntegerFieldUpdater<Attempt> DONE = AtomicIntegerFieldUpdater.newUpdater(Attempt.class, "done");

  private final Forwarder forwarder;
  private final Router router;
  private final CookieSource cookies;
  private final boolean secure;
  private final boolean replayable;
  private final RouteDecision decision;
  private final int number;
  private final int failovers;
  private final boolean resent;
  /** The listener rule that sent the exchange here, or {@code null}. */
  private final dev.affinity.rules.Rule rule;
  /** For an exchange no target is asked to answer: how the balancer answers it; else {@code null}. */
  private final Next preset;
  private volatile int done;

  Attempt(Forwarder forwarder, Router router, CookieSource cookies, boolean secure, boolean replayable,
      RouteDecision decision, int number, int failovers, boolean resent) {
    this(forwarder, router, cookies, secure, replayable, decision, number, failovers, resent, null, null);
  }

  Attempt(Forwarder forwarder, Router router, CookieSource cookies, boolean secure, boolean replayable,
      RouteDecision decision, int number, int failovers, boolean resent, dev.affinity.rules.Rule rule, Next preset) {
    this.rule = rule;
    this.preset = preset;
    this.forwarder = forwarder;
    this.router = router;
    this.cookies = cookies;
    this.secure = secure;
    this.replayable = replayable;
    this.decision = decision;
    this.number = number;
    this.failovers = failovers;
    this.resent = resent;
    if (decision.target() != null) {
      decision.target().started();
    }
  }

  /** The target to send to, or {@code null} when none can take the request (see {@link #unavailable()}). */
  public Target target() {
    return decision.target();
  }

  public TargetGroup group() {
    return decision.group();
  }

  public RouteDecision decision() {
    return decision;
  }

  /**
   * The listener rule that matched the request, or {@code null} (no rules, or the default action): its
   * {@link dev.affinity.rules.Rule#responseHeaders()} apply to whatever the client is answered.
   */
  public dev.affinity.rules.Rule rule() {
    return rule;
  }

  /** 1 for the first attempt of an exchange, then 2, 3… */
  public int number() {
    return number;
  }

  /** The router this exchange was routed by (a reload swaps routers; an exchange keeps its own). */
  public Router router() {
    return router;
  }

  /**
   * The target the client was pinned to before this attempt moved it, for
   * {@link Forwarder#PREVIOUS_TARGET_HEADER}; {@code null} when the client was not moved.
   */
  public String previousTargetId() {
    return decision.previousTargetId();
  }

  /** Whether this attempt moved a pinned client to another target (a re-pin the adapter may report). */
  public boolean movedClient() {
    return decision.outcome() == RouteDecision.Outcome.REPIN && decision.previousTargetId() != null;
  }

  /** Whether the request may be sent again once a target may have seen it (idempotent, bodyless). */
  public boolean replayable() {
    return replayable;
  }

  /**
   * The target answered (status and headers are in; nothing went to the client yet): the target is
   * serving, and these cookies go on the client's response, in order. With application stickiness,
   * an answer that sets the application's cookie (not a deletion) pins the client to this target.
   * The status feeds the group's {@link PassiveHealth}: a failing {@code 5xx} counts against the
   * target, anything else starts its counts again.
   *
   * @param status the target's status ({@code 101} for an accepted WebSocket upgrade)
   * @param answer the {@code Set-Cookie} headers of the target's answer, as the container parsed them
   */
  public List<SetCookie> answered(int status, AnswerCookies answer) {
    requireNonNull(answer, "answer");
    Target target = requireTarget();
    Instant now = router.cookies().now();
    target.health().served(now);
    decision.group().observeAnswer(target, status, now);
    List<SetCookie> own = decision.setCookies();
    StickinessPolicy policy = decision.stickiness();
    String watched = policy.applicationCookie();
    if (watched == null || !setsLive(answer.find(watched), now)) {
      return own;
    }
    List<SetCookie> pin = router.onResponse(decision, true, cookies, secure);
    if (pin.isEmpty()) {
      return own;
    }
    if (own.isEmpty()) {
      return pin;
    }
    List<SetCookie> all = new ArrayList<>(own.size() + pin.size());
    all.addAll(own);
    all.addAll(pin);
    return all;
  }

  /**
   * Whether {@link #answered} looks at the cookies the target's answer sets (application stickiness
   * does); when not, an adapter passes {@link AnswerCookies#NONE} rather than make a reader per answer.
   */
  public boolean readsAnswerCookies() {
    return decision.stickiness().applicationCookie() != null;
  }

  /** A cookie the target sets and does not delete at once (Max-Age above 0, Expires not past, a value). */
  static boolean setsLive(AnswerCookie cookie, Instant now) {
    if (cookie == null || cookie.value().isEmpty()) {
      return false;
    }
    if (cookie.maxAgeSeconds() != null) {
      return cookie.maxAgeSeconds() > 0;
    }
    return cookie.expires() == null || cookie.expires().isAfter(now);
  }

  /** The whole answer reached the client (or the client left): the request is no longer in flight. */
  public void finished() {
    if (decision.target() != null && DONE.compareAndSet(this, 0, 1)) {
      decision.target().finished();
    }
  }

  /**
   * The target failed this attempt. Counts it, ejects a target that refused the connection (the
   * active health check brings it back), feeds the group's {@link PassiveHealth} (an unusable
   * answer, a connection closed before the answer on a fresh connection, a timeout), and decides
   * what comes next by the retry rule.
   *
   * @param failure what went wrong, as the adapter classified it
   * @param answerBegun whether any of the answer already went to the client (then it can only be cut short)
   */
  public Next failed(Failure failure, boolean answerBegun) {
    requireNonNull(failure, "failure");
    Target target = requireTarget();
    finished();
    if (failure.kind == Failure.Kind.CLIENT) {
      // The client's side broke (it left mid-upload, or its body passed the limit): the target did
      // nothing wrong, so it is neither counted against nor retried elsewhere.
      if (answerBegun || failure.status == 0) {
        return Next.ABORT;
      }
      forwarder.tooLarge.increment();
      return tooLarge(forwarder.maxRequestBodyBytes());
    }
    target.failed();
    Instant now = router.cookies().now();
    if (failure.kind == Failure.Kind.REFUSED && target.health().ejected(now, "connection refused: " + failure.detail)) {
      LOG.warn("target {} ({}) refused a connection and was taken out of rotation", target.id(), target.uri());
    }
    observe(target, failure, now);
    if (answerBegun) {
      return Next.ABORT;
    }
    switch (failure.kind) {
      case REFUSED:
        return failover(true);
      case CLOSED_EARLY:
        if (!replayable) {
          return badGateway();
        }
        if (failure.reusedConnection && !resent) {
          // A kept-alive connection the target closed while idle: it never saw the request, and the
          // client's pin has not failed, so the same target once more, on a new connection.
          forwarder.resends.increment();
          return Next.retry(new Attempt(forwarder, router, cookies, secure, replayable, decision, number + 1, failovers, true, rule, null));
        }
        return failover(false);
      case CUT:
        // The target died mid-answer (a crash, a kill) before any of it reached the client: a
        // replayable request goes to another target as after a close before the answer (HAProxy's
        // retry-on empty-response, Envoy's reset), rather than a 502 for what another target can serve.
        return replayable ? failover(false) : badGateway();
      case TIMED_OUT:
        forwarder.gatewayTimeout.increment();
        return Next.answer(504, -1, "the target did not answer in time.");
      case REJECTED:
        // The application turned the request down (a WebSocket upgrade it does not serve): say so.
        forwarder.badGateway.increment();
        return Next.answer(failure.status, -1, "the target refused the request.");
      default:
        return badGateway();
    }
  }

  /**
   * What passive health learns from a failure. A kept-alive connection closed before the answer is
   * not counted: targets close idle connections as a matter of course (the resend that follows, on a
   * new connection, counts if it is closed too). A refused connect ejected the
   * target already; a client's failure or a 4xx refusal of an upgrade is no fault of the target's.
   */
  private void observe(Target target, Failure failure, Instant now) {
    TargetGroup group = decision.group();
    switch (failure.kind) {
      case TIMED_OUT -> group.observeFailure(target, true, now, "no answer within the timeout");
      case BAD_ANSWER -> group.observeFailure(target, false, now, "unusable answer");
      case CUT -> group.observeFailure(target, false, now, "connection closed in the middle of the answer");
      case CLOSED_EARLY -> {
        // A resend went on a new connection (whatever a path that cannot tell says): its close counts.
        if (!failure.reusedConnection || resent) {
          group.observeFailure(target, false, now, "connection closed before the answer");
        }
      }
      case REJECTED -> group.observeAnswer(target, failure.status, now);
      default -> { }
    }
  }

  private Next failover(boolean refused) {
    if (failovers < Forwarder.MAX_FAILOVERS) {
      RouteDecision next = router.failover(decision, cookies, secure);
      if (next != null) {
        forwarder.failovers.increment();
        // The resend a stale kept-alive connection earns is the new target's own: that A's connection
        // went stale says nothing about B's. Carried over, a request whose first target was killed
        // (stale connection, resend refused) got a 502 when B's pooled connection was stale too.
        return Next.retry(new Attempt(forwarder, router, cookies, secure, replayable, next, number + 1, failovers + 1, false, rule, null));
      }
    }
    return refused ? noTarget() : badGateway();
  }

  static Next tooLarge(long limit) {
    return Next.answer(413, -1, "the request body is larger than the " + limit + " bytes this balancer accepts.");
  }

  private Next badGateway() {
    forwarder.badGateway.increment();
    return Next.answer(502, -1, "the target's answer could not be used.");
  }

  /**
   * How to answer an attempt without a target: a listener rule's redirect or fixed response, {@code 400}
   * for a path the rules refuse, or when no target can take the request {@code 503} with
   * {@code Retry-After}; never a stack trace.
   */
  public Next unavailable() {
    return preset != null ? preset : noTarget();
  }

  private Next noTarget() {
    forwarder.noTarget.increment();
    TargetGroup group = decision.group();
    return Next.answer(503, RETRY_AFTER_SECONDS,
        "no target" + (group == null ? "" : " in target group " + group.name()) + " can take this request now. Try again shortly.");
  }

  private Target requireTarget() {
    Target target = decision.target();
    if (target == null) {
      throw new IllegalStateException("this attempt has no target; answer with unavailable()");
    }
    return target;
  }

  @Override
  public String toString() {
    return "Attempt#" + number + "{" + decision + "}";
  }

  /** The {@code Set-Cookie} headers of a target's answer, parsed by the container. */
  @FunctionalInterface
  public interface AnswerCookies {
    /** An answer that sets no cookie, or one whose cookies nobody asks about ({@link #readsAnswerCookies()}). */
    AnswerCookies NONE = name -> null;

    /** The last cookie the answer sets under {@code name}, or {@code null} when it sets none. */
    AnswerCookie find(String name);
  }

  /**
   * One cookie a target's answer sets, as far as the balancer cares.
   *
   * @param maxAgeSeconds the {@code Max-Age} attribute, or {@code null} when absent
   * @param expires the {@code Expires} attribute, or {@code null} when absent
   */
  public record AnswerCookie(String name, String value, Long maxAgeSeconds, Instant expires) {
    public AnswerCookie {
      requireNonNull(name, "name");
      requireNonNull(value, "value");
    }
  }

  /** What went wrong with an attempt, as far as the retry rule cares. */
  public static final class Failure {
    enum Kind { REFUSED, CLOSED_EARLY, TIMED_OUT, BAD_ANSWER, CUT, REJECTED, CLIENT }

    final Kind kind;
    final boolean reusedConnection;
    final int status;
    final String detail;

    private Failure(Kind kind, boolean reusedConnection, int status, String detail) {
      this.kind = kind;
      this.reusedConnection = reusedConnection;
      this.status = status;
      this.detail = detail == null ? "" : detail;
    }

    /** The connection could not be made (refused, unreachable, unknown host, connect timeout): nothing was sent. */
    public static Failure refused(String detail) {
      return new Failure(Kind.REFUSED, false, 0, detail);
    }

    /**
     * The connection closed (or was reset) before the first byte of an answer.
     *
     * @param reusedConnection whether it was a kept-alive connection that carried an exchange before,
     *     which the target may have closed while idle without seeing this request
     */
    public static Failure closedBeforeAnswer(boolean reusedConnection) {
      return new Failure(Kind.CLOSED_EARLY, reusedConnection, 0, null);
    }

    /**
     * The connection went away after part of the answer arrived (the target died mid-answer). A
     * replayable request whose answer has not begun to reach the client moves to another target.
     */
    public static Failure cutAnswer() {
      return new Failure(Kind.CUT, false, 0, null);
    }

    /** The target stayed silent past the upstream timeout. */
    public static Failure timedOut() {
      return new Failure(Kind.TIMED_OUT, false, 0, null);
    }

    /** The target answered with something that is not a usable answer (garbage, an unasked upgrade, a cut answer). */
    public static Failure badAnswer() {
      return new Failure(Kind.BAD_ANSWER, false, 0, null);
    }

    /**
     * The target answered a WebSocket upgrade with this status instead of switching protocols: a
     * {@code 4xx} is passed on to the client as the application's own refusal, anything else is a {@code 502}.
     */
    public static Failure upgradeRefused(int status) {
      return status >= 400 && status < 500 ? new Failure(Kind.REJECTED, false, status, null) : badAnswer();
    }

    /**
     * The client went away: it stopped mid-body, reset its stream, or closed its connection while the
     * answer was being written to it. Never the target's fault: not counted against it (nor by passive
     * health), never retried; the exchange is cut short.
     */
    public static Failure clientLeft() {
      return new Failure(Kind.CLIENT, false, 0, null);
    }

    /**
     * The client's body passed {@link Forwarder#maxRequestBodyBytes()} while it was streamed: a
     * {@code 413} when no answer has begun, else the exchange is cut short. Not the target's fault.
     */
    public static Failure bodyTooLarge() {
      return new Failure(Kind.CLIENT, false, 413, null);
    }

    /** Whether the connection could not be made (nothing reached the target). */
    public boolean isRefused() {
      return kind == Kind.REFUSED;
    }

    @Override
    public String toString() {
      return kind + (reusedConnection ? " (reused connection)" : "") + (status > 0 ? " " + status : "");
    }
  }

  /** What the adapter does after a failed attempt. */
  public static final class Next {
    /** What to do. */
    public enum Action {
      /** Send the request again, as {@link #attempt()}. */
      RETRY,
      /** Answer the client with {@link #status()}, a short plain {@link #reason()}, and {@link #retryAfterSeconds()} when not -1. */
      ANSWER,
      /** Part of the answer is already with the client: all that can be done is to cut it short. */
      ABORT
    }

    static final Next ABORT = new Next(Action.ABORT, null, 0, -1, null);

    private final Action action;
    private final Attempt attempt;
    private final int status;
    private final int retryAfterSeconds;
    private final String reason;
    private String location;
    private String contentType;
    private String body;

    private Next(Action action, Attempt attempt, int status, int retryAfterSeconds, String reason) {
      this.action = action;
      this.attempt = attempt;
      this.status = status;
      this.retryAfterSeconds = retryAfterSeconds;
      this.reason = reason;
    }

    /** A redirect to {@code location}, with an empty body. */
    static Next redirect(int status, String location) {
      Next next = new Next(Action.ANSWER, null, status, -1, null);
      next.location = location;
      next.body = "";
      return next;
    }

    /** An answer whose body is exactly {@code body}, of {@code contentType}. */
    static Next fixed(int status, String contentType, String body) {
      Next next = new Next(Action.ANSWER, null, status, -1, null);
      next.contentType = contentType;
      next.body = body;
      return next;
    }

    /** For a redirect, the {@code Location}; else {@code null}. */
    public String location() {
      return location;
    }

    /**
     * The whole body to answer with (and {@link #contentType()}), for a rule's own answer; {@code null}
     * for the balancer's plain-text answers, which the adapter words from the status and {@link #reason()}.
     */
    public String body() {
      return body;
    }

    /** The {@code Content-Type} of {@link #body()}, or {@code null} (none, or the adapter's plain text). */
    public String contentType() {
      return contentType;
    }

    static Next retry(Attempt attempt) {
      return new Next(Action.RETRY, attempt, 0, -1, null);
    }

    static Next answer(int status, int retryAfterSeconds, String reason) {
      return new Next(Action.ANSWER, null, status, retryAfterSeconds, reason);
    }

    public Action action() {
      return action;
    }

    /** The next attempt, for {@link Action#RETRY}. */
    public Attempt attempt() {
      return attempt;
    }

    /** The status to answer with, for {@link Action#ANSWER}. */
    public int status() {
      return status;
    }

    /** Seconds for {@code Retry-After}, or -1 for none. */
    public int retryAfterSeconds() {
      return retryAfterSeconds;
    }

    /** A short sentence for the plain-text body, after the status line's words. */
    public String reason() {
      return reason;
    }

    @Override
    public String toString() {
      return action + (attempt != null ? " " + attempt : "") + (status > 0 ? " " + status : "");
    }
  }
}
