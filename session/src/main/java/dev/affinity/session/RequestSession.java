package dev.affinity.session;

import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.SetCookie;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The session of one request in cookie or redis mode. The incoming cookie is opened, and the store
 * asked, only when the application asks for the session. {@link #cookies()} writes the session through
 * (to the store, or by sealing the cookie) and returns the {@code Set-Cookie}s; it may be called
 * several times (on each trigger before the response commits) and does work only when something
 * changed.
 *
 * <p>Thread-safe.
 */
public final class RequestSession {
  private static final Logger LOG = LoggerFactory.getLogger(RequestSession.class);

  private final Sessions sessions;
  private final CookieSource request;
  private final boolean secureRequest;
  private final List<String> toDelete = new ArrayList<>();
  private boolean incomingRead;
  private AffinityTicket incoming;
  private String requestedId;
  private SessionRecord requested;
  private boolean requestedLoaded;
  private Session session;
  private boolean abandoned;
  private boolean expireCookie;
  private String issuedFor;
  private boolean touched;
  private List<SetCookie> issued = List.of();

  RequestSession(Sessions sessions, CookieSource request, boolean secureRequest) {
    this.sessions = sessions;
    this.request = request;
    this.secureRequest = secureRequest;
  }

  private void readIncoming() {
    if (incomingRead) {
      return;
    }
    incomingRead = true;
    incoming = sessions.cookies().read(request, sessions.cookieName()).orElse(null);
    if (incoming == null) {
      return;
    }
    if (sessions.mode() == SessionMode.COOKIE) {
      SessionRecord record = SessionRecord.fromBytes(incoming.extra()).orElse(null);
      if (record != null && Session.isValidId(record.id())) {
        requestedId = record.id();
        requested = record.isExpiredAt(sessions.now()) ? null : record;
      }
      requestedLoaded = true;
    } else {
      String id = new String(incoming.extra(), StandardCharsets.US_ASCII);
      if (Session.isValidId(id)) {
        requestedId = id;
      }
    }
  }

  /**
   * The stored session the client's cookie names, loaded once.
   *
   * @throws SessionStoreException when the store cannot say (never answered with an empty session)
   */
  private SessionRecord requested() {
    readIncoming();
    if (!requestedLoaded && requestedId != null) {
      try {
        requested = sessions.store().load(requestedId).orElse(null);
      } catch (SessionStoreException e) {
        sessions.store().counters().warning();
        throw e;
      }
      if (requested != null && requested.isExpiredAt(sessions.now())) {
        requested = null;
      }
      requestedLoaded = true;
    }
    return requested;
  }

  /** The session id the client sent in a valid cookie, or empty. */
  public synchronized Optional<String> requestedId() {
    readIncoming();
    return Optional.ofNullable(requestedId);
  }

  /** True when the client sent the id of a live session, and it is this request's current session. */
  public synchronized boolean requestedIdValid() {
    readIncoming();
    if (requestedId == null) {
      return false;
    }
    Session current = current(false);
    return current != null && current.isValid() && requestedId.equals(current.id());
  }

  /**
   * The request's session: the one the client's cookie names, else (with {@code create}) a new one.
   *
   * @throws SessionStoreException in redis mode when the store cannot be reached and the session is
   *     not in the near-cache
   */
  public synchronized Session current(boolean create) {
    if (session != null && session.isValid()) {
      return session;
    }
    if (session == null && !abandoned) {
      SessionRecord record = requested();
      if (record != null) {
        session = Session.resume(record, sessions.now(), sessions.serializer(), sessions.limit());
        return session;
      }
    }
    if (!create) {
      return null;
    }
    if (session != null && !session.isValid()) {
      forget(session);
    }
    session = Session.create(sessions.now(), sessions.defaultMaxInactive(), sessions.serializer(), sessions.limit());
    return session;
  }

  private void forget(Session old) {
    if (!old.isNew() || !old.unsaved()) {
      toDelete.add(old.id());
    }
    if (old.previousId() != null) {
      toDelete.add(old.previousId());
    }
  }

  /**
   * Gives the current session a new id.
   *
   * @throws IllegalStateException when the request has no session
   */
  public synchronized String changeId() {
    Session current = current(false);
    if (current == null) {
      throw new IllegalStateException("changeSessionId: the request has no session");
    }
    return current.changeId();
  }

  /** Stops writing anything for this request (after it failed). */
  public synchronized void abandon() {
    abandoned = true;
  }

  /**
   * Writes the session through and returns the cookies for it.
   *
   * @throws SessionConflictException redis mode: another request saved the session first
   * @throws SessionStoreException redis mode: the write did not reach the store (refused, or only kept for a
   *     later retry: either way not acknowledged)
   * @throws IllegalStateException an attribute changed in place past the size limit
   */
  public synchronized List<SetCookie> cookies() {
    if (abandoned) {
      return issued;
    }
    if (session == null) {
      return issued;
    }
    Instant now = sessions.now();
    if (!session.isValid()) {
      forget(session);
      deleteForgotten();
      session = null;
      expireCookie = true;
      issued = expire();
      return issued;
    }
    return sessions.mode() == SessionMode.COOKIE ? sealCookie(now) : writeThrough(now);
  }

  private List<SetCookie> sealCookie(Instant now) {
    SessionChange change = session.pendingChange();
    boolean refresh = !touched && !session.isNew() && Duration.between(session.lastAccessedAt(), now)
        .compareTo(Sessions.touchGranularity(session.maxInactive())) > 0;
    if (change == null && !refresh) {
      return issued;
    }
    touched = true;
    SessionRecord record = session.snapshot();
    issued = List.copyOf(sessions.cookies().issue(sessions.cookieName(), sessions.ticket(record, now),
        sessions.expiry(record), secureRequest, request));
    session.saved(change, 0);
    issuedFor = session.id();
    return issued;
  }

  private List<SetCookie> writeThrough(Instant now) {
    SessionStore store = sessions.store();
    SessionChange change = session.pendingChange();
    if (change != null) {
      SaveResult result = store.save(change);
      if (result.isConflict()) {
        throw new SessionConflictException("session " + abbreviated(change.id()) + " was saved by another request"
            + " (version " + result.version() + ", this request loaded " + change.expectedVersion()
            + "); its changes were not written, retry the request");
      }
      if (result.outcome() == SaveResult.Outcome.PENDING) {
        // A write the store only kept for later is not acknowledged: the client is told (503), never
        // handed a 200 for a change that a partition, a crash of this target or a newer write elsewhere
        // could still lose. The kept write may land later; a retried request then reads it.
        throw new SessionStoreException("session " + abbreviated(change.id()) + " was not written: the store is"
            + " unreachable (the change is kept and retried, but not acknowledged)");
      }
      session.saved(change, result.version());
      if (session.previousId() != null && !toDelete.contains(session.previousId())) {
        toDelete.add(session.previousId());
      }
      deleteForgotten();
    } else if (!touched && !session.isNew() && Duration.between(session.lastAccessedAt(), now)
        .compareTo(Sessions.touchGranularity(session.maxInactive())) > 0) {
      touched = true;
      try {
        store.touch(session.id(), now, session.maxInactive());
      } catch (SessionStoreException e) {
        store.counters().warning();
        LOG.warn("could not record the access to session {}: {}", abbreviated(session.id()), e.getMessage());
      }
    }
    if (!session.id().equals(issuedFor) && (session.isNew() || !session.id().equals(requestedId))) {
      SessionRecord record = session.snapshot();
      issued = List.copyOf(sessions.cookies().issue(sessions.cookieName(), sessions.ticket(record, now),
          sessions.expiry(record), secureRequest, request));
      issuedFor = session.id();
    }
    return issued;
  }

  private void deleteForgotten() {
    if (sessions.store() == null) {
      toDelete.clear();
      return;
    }
    for (String id : toDelete) {
      try {
        sessions.store().delete(id);
      } catch (SessionStoreException e) {
        sessions.store().counters().warning();
        LOG.warn("could not delete session {} (it expires on its own): {}", abbreviated(id), e.getMessage());
      }
    }
    toDelete.clear();
  }

  private List<SetCookie> expire() {
    AffinityCookies cookies = sessions.cookies();
    String name = sessions.cookieName();
    // Expire the plain cookie even when the request did not carry it: this request may have set it.
    CookieSource carried = n -> n.equals(name) && issuedFor != null ? "" : request.value(n);
    issuedFor = null;
    return List.copyOf(cookies.expire(name, secureRequest, carried));
  }

  /** True once the application asked for a session in this request. */
  public synchronized boolean accessed() {
    return session != null || expireCookie;
  }

  static String abbreviated(String id) {
    return id.length() <= 6 ? id : id.substring(0, 6) + "…";
  }

  @Override
  public synchronized String toString() {
    return "RequestSession{" + sessions.mode().value() + ", " + (session == null ? "none" : session) + "}";
  }
}
