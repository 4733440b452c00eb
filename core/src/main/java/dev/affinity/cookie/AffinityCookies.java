package dev.affinity.cookie;

import static java.util.Objects.requireNonNull;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reads and writes affinity cookies as a browser sees them: a sealed value under its name, its CORS
 * companion, and shards {@code NAME-0 … NAME-n} when one cookie cannot hold it.
 *
 * <p>Reading accepts the plain cookie or its CORS companion. A value that fits one cookie is sent as
 * {@code NAME}; a longer one as {@code NAME-0 … NAME-n}, the first shard starting with the shard count
 * and a dot. Missing or extra shards make the whole value absent. Writing expires every cookie of the
 * same name the request carried that the new value does not overwrite, so stale shards of a longer
 * earlier value do not linger.
 */
public final class AffinityCookies {
  private static final Instant EPOCH = Instant.EPOCH;
  /** Room for {@code ; Path=…; Domain=…; Max-Age=604800; Expires=…; Secure; HttpOnly; SameSite=Strict}. */
  private static final int FIXED_ATTRIBUTE_BYTES = 110;
  private static final String[] SHARD_SUFFIXES = new String[65];

  static {
    for (int i = 0; i < SHARD_SUFFIXES.length; i++) {
      SHARD_SUFFIXES[i] = "-" + i;
    }
  }

  private final AffinityCookieCodec codec;
  private final CookiePolicy policy;
  /** Shard and companion names per logical name, built once: the request path concatenates no strings. */
  private final java.util.concurrent.ConcurrentHashMap<String, String[]> shardNames = new java.util.concurrent.ConcurrentHashMap<>();
  private final CodecMetrics metrics;
  private final int attributeBytes;
  private final int maxShards;
  /** With {@link CookiePolicy#sealReuse()}: values sealed before, reused for equal tickets; else {@code null}. */
  private final SealCache sealCache;

  private AffinityCookies(AffinityCookieCodec codec, CookiePolicy policy) {
    this.codec = codec;
    this.policy = policy;
    this.sealCache = policy.sealReuse() ? new SealCache(codec) : null;
    this.metrics = codec.metrics();
    this.attributeBytes = FIXED_ATTRIBUTE_BYTES + policy.path().length()
        + (policy.domain() == null ? 0 : policy.domain().length() + 9);
    this.maxShards = Math.min(SHARD_SUFFIXES.length - 1, policy.maxTotalBytes() / 256 + 1);
  }

  public static AffinityCookies of(AffinityCookieCodec codec, CookiePolicy policy) {
    return new AffinityCookies(requireNonNull(codec, "codec"), requireNonNull(policy, "policy"));
  }

  public AffinityCookieCodec codec() {
    return codec;
  }

  public CookiePolicy policy() {
    return policy;
  }

  public CookieNames names() {
    return policy.names();
  }

  public Instant now() {
    return codec.clock().instant();
  }

  /**
   * The live ticket the request carries as {@code name} (or its CORS companion, or shards of either),
   * or empty. Never throws; anything wrong is counted and treated as absent.
   */
  public Optional<AffinityTicket> read(CookieSource request, String name) {
    requireNonNull(request, "request");
    Optional<AffinityTicket> plain = open(request, name, name);
    if (plain.isPresent()) {
      return plain;
    }
    return open(request, names(name)[maxShards + 1], name);
  }

  /**
   * The reason the last cookie rejected on this thread was rejected. Rejections are rare and each
   * read is a call on one thread, so this costs the hot path nothing: only a reader that found a
   * cookie present but not opening asks it, right after its read.
   */
  private static final ThreadLocal<Rejection> LAST_REJECTION = new ThreadLocal<>();

  /** Counts a rejection and remembers it for {@link #rejection}. */
  static void rejected(CodecMetrics metrics, Rejection reason) {
    LAST_REJECTION.set(reason);
    metrics.rejected(reason);
  }

  /**
   * Why the cookie {@code name} (or its companion, or shards) that the request carries did not open
   * in the {@link #read} just made on this thread; {@code null} when the request carries none (a new
   * client, not an invalid one). Call it only after a read of {@code name} came back empty.
   */
  public Rejection rejection(CookieSource request, String name) {
    return present(request, name) ? LAST_REJECTION.get() : null;
  }

  /**
   * Opens a token that did not come in a cookie (header persistence sends it in a request header),
   * sealed under {@code name}; empty when {@code value} is {@code null} or does not open. After an empty
   * result for a non-null value, {@link #lastRejection()} says why.
   */
  public Optional<AffinityTicket> open(String name, String value) {
    return value == null ? Optional.empty() : codec.open(name, value);
  }

  /** Why the last token opened on this thread (by {@link #read} or {@link #open}) was refused; call only right after an empty result. */
  public Rejection lastRejection() {
    return LAST_REJECTION.get();
  }

  /** True when the request carries any cookie (plain, companion, or a first shard) called {@code name}. */
  public boolean present(CookieSource request, String name) {
    String cors = CookieNames.corsCompanion(name);
    return request.value(name) != null || request.value(shard(name, 0)) != null
        || request.value(cors) != null || request.value(shard(cors, 0)) != null;
  }

  private Optional<AffinityTicket> open(CookieSource request, String cookieName, String logicalName) {
    String value = joined(request, cookieName);
    return value == null ? Optional.empty() : codec.open(logicalName, value);
  }

  /**
   * {@code name-i}, at index {@code maxShards + 1} the CORS companion's name and at {@code maxShards + 2}
   * the companion's first shard. Names come from
   * configuration, so the map stays as small as the set of affinity cookie names.
   */
  private String[] names(String name) {
    String[] names = shardNames.get(name);
    if (names == null) {
      names = shardNames.computeIfAbsent(name, n -> {
        String[] out = new String[maxShards + 3];
        for (int i = 0; i <= maxShards; i++) {
          out[i] = n + SHARD_SUFFIXES[i];
        }
        out[maxShards + 1] = CookieNames.corsCompanion(n);
        out[maxShards + 2] = out[maxShards + 1] + SHARD_SUFFIXES[0];
        return out;
      });
    }
    return names;
  }

  private String shard(String name, int index) {
    return names(name)[index];
  }

  /** The whole value under {@code name}: the plain cookie, or its shards joined; {@code null} when absent or bad. */
  String joined(CookieSource request, String name) {
    String single = request.value(name);
    if (single != null) {
      return single;
    }
    String[] shards = names(name);
    String first = request.value(shards[0]);
    if (first == null) {
      return null;
    }
    int dot = first.indexOf('.');
    int count = dot <= 0 || dot > 2 ? -1 : parseCount(first, dot);
    if (count < 2 || count > maxShards) {
      rejected(metrics, Rejection.BAD_SHARDS);
      return null;
    }
    StringBuilder whole = new StringBuilder(policy.maxShardBytes() * count);
    whole.append(first, dot + 1, first.length());
    for (int i = 1; i < count; i++) {
      String shard = request.value(shards[i]);
      if (shard == null || shard.isEmpty()) {
        rejected(metrics, Rejection.BAD_SHARDS);
        return null;
      }
      whole.append(shard);
      if (whole.length() > policy.maxTotalBytes()) {
        rejected(metrics, Rejection.OVERSIZED);
        return null;
      }
    }
    if (request.value(shards[count]) != null) {
      rejected(metrics, Rejection.BAD_SHARDS);
      return null;
    }
    return whole.toString();
  }

  private static int parseCount(String first, int dot) {
    int count = 0;
    for (int i = 0; i < dot; i++) {
      char c = first.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      count = count * 10 + (c - '0');
    }
    return count;
  }

  /**
   * Seals {@code ticket} as {@code name} and returns the cookies to set: the value (sharded if need
   * be), its CORS companion when CORS is on, and removals for whatever the request carried under the
   * same name that the new cookies do not overwrite. With {@link CookiePolicy#sealReuse()} on, a
   * ticket equal to one sealed before (under the same key and name) is not sealed again: its value is
   * reused, and so are the cookies last issued with it when they would come out the same (same
   * {@code Max-Age} second, {@code Secure} and path, nothing to remove). Pass a {@link #shareable}
   * ticket for clients to share values. The list is not to be modified.
   *
   * @throws IllegalArgumentException when the sealed value exceeds {@link CookiePolicy#maxTotalBytes()}
   */
  public List<SetCookie> issue(
      String name, AffinityTicket ticket, Expiry expiry, boolean secureRequest, CookieSource request) {
    return issue(name, ticket, expiry, secureRequest, request, policy.path());
  }

  /**
   * As {@link #issue(String, AffinityTicket, Expiry, boolean, CookieSource)}, with the cookies (and the
   * removals of stale shards, which must name the same path to delete anything) scoped to {@code path}:
   * a listener rule's persistence is scoped to the rule's path prefix.
   */
  public List<SetCookie> issue(
      String name, AffinityTicket ticket, Expiry expiry, boolean secureRequest, CookieSource request, String path) {
    requireNonNull(name, "name");
    requireNonNull(path, "path");
    requireNonNull(ticket, "ticket");
    requireNonNull(expiry, "expiry");
    requireNonNull(request, "request");
    SealCache.Sealed sealed = sealCache == null ? null : sealCache.sealed(name, ticket);
    String value = sealed == null ? codec.seal(name, ticket) : sealed.value;
    if (value.length() > policy.maxTotalBytes()) {
      throw new IllegalArgumentException("cookie " + name + " seals to " + value.length()
          + " bytes, over the configured maxTotalBytes of " + policy.maxTotalBytes());
    }
    long now = codec.clock().millis();
    long maxAgeSeconds = expiry.maxAgeSeconds(ticket, now);
    boolean secure = policy.secureMode().secure(secureRequest);
    String[] names = names(name);
    String cors = names[maxShards + 1];
    if (sealed != null) {
      // Many clients get the same value within a granule, and within one second the same cookies: built
      // once, as long as the request carries nothing that has to be removed beside them.
      SealCache.Issued last = sealed.issued;
      if (last != null && last.matches(maxAgeSeconds, secure, path) && carriesNothingToRemove(request, name, names, last.cookies.size())) {
        return last.cookies;
      }
    }
    Duration maxAge = maxAgeSeconds < 0 ? null : Duration.ofSeconds(maxAgeSeconds);
    // Max-Age counts whole seconds down from now, and Expires says the same date.
    Instant expires = maxAge == null ? null : Instant.ofEpochMilli(now).plus(maxAge);
    List<SetCookie> out = new ArrayList<>(4);
    addValue(out, name, value, maxAge, expires, secure, policy.sameSite(secure), request, path);
    if (policy.cors()) {
      addValue(out, cors, value, maxAge, expires, true, SameSite.NONE, request, path);
    } else {
      addRemovals(out, cors, -1, true, SameSite.NONE, request, path);
    }
    if (sealed == null || anyRemoval(out)) {
      return out;
    }
    List<SetCookie> cookies = List.copyOf(out);
    sealed.issued = new SealCache.Issued(maxAgeSeconds, secure, path, cookies);
    return cookies;
  }

  private static boolean anyRemoval(List<SetCookie> cookies) {
    for (int i = 0, n = cookies.size(); i < n; i++) {
      if (cookies.get(i).isRemoval()) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether issuing {@code count} cookies for {@code name} (one value, or its shards, and its CORS
   * companion when CORS is on) to {@code request} removes nothing: the request carries no shard of
   * either name, no plain cookie a sharded value replaces, and no companion that CORS off removes.
   */
  private boolean carriesNothingToRemove(CookieSource request, String name, String[] names, int count) {
    boolean sharded = count > (policy.cors() ? 2 : 1);
    String cors = names[maxShards + 1];
    return request.value(names[0]) == null && request.value(names[maxShards + 2]) == null
        && (!sharded || request.value(name) == null && request.value(cors) == null)
        && (policy.cors() || request.value(cors) == null);
  }

  /**
   * {@code ticket} as many clients can share it: with {@link CookiePolicy#sealReuse()} on, its times
   * moved back to the start of {@code expiry}'s refresh granule (at most one granule earlier; an
   * absolute deadline is never extended), so that every client pinned to the same target in the same
   * granule holds an equal ticket, sealed once; with it off, {@code ticket} itself.
   */
  public AffinityTicket shareable(AffinityTicket ticket, Expiry expiry) {
    requireNonNull(ticket, "ticket");
    requireNonNull(expiry, "expiry");
    return sealCache == null ? ticket : expiry.shareable(ticket);
  }

  /**
   * {@code ticket} sealed as {@code name} with the primary key, for a token that travels outside a
   * cookie (header persistence). With {@link CookiePolicy#sealReuse()} on, an equal ticket sealed
   * before gets the same value back.
   */
  public String seal(String name, AffinityTicket ticket) {
    requireNonNull(name, "name");
    requireNonNull(ticket, "ticket");
    return sealCache == null ? codec.seal(name, ticket) : sealCache.seal(name, ticket);
  }

  /** Cookies that delete every form of {@code name} the request carried (none when it carried none). */
  public List<SetCookie> expire(String name, boolean secureRequest, CookieSource request) {
    requireNonNull(name, "name");
    requireNonNull(request, "request");
    List<SetCookie> out = new ArrayList<>(2);
    boolean secure = policy.secureMode().secure(secureRequest);
    addRemovals(out, name, -1, secure, policy.sameSite(secure), request, policy.path());
    addRemovals(out, CookieNames.corsCompanion(name), -1, true, SameSite.NONE, request, policy.path());
    return out;
  }

  private void addValue(List<SetCookie> out, String name, String value, Duration maxAge, Instant expires,
      boolean secure, SameSite sameSite, CookieSource request, String path) {
    int attributes = attributeBytes + path.length() - policy.path().length();
    int single = policy.maxShardBytes() - attributes - name.length() - 1;
    if (value.length() <= single) {
      out.add(cookie(name, value, maxAge, expires, secure, sameSite, path));
      addRemovals(out, name, 0, secure, sameSite, request, path);
      return;
    }
    // Each shard holds what its own name and the attributes leave of one cookie; shard 0 also holds "n.".
    int perShard = policy.maxShardBytes() - attributes - name.length() - 4 - 3;
    int count = perShard <= 0 ? Integer.MAX_VALUE : (value.length() + perShard - 1) / perShard;
    if (count > maxShards) {
      // Past maxShards the shard names run out (and the reader would refuse the value anyway).
      throw new IllegalArgumentException("cookie " + name + " seals to " + value.length() + " bytes, which needs more than "
          + maxShards + " shards of " + Math.max(0, perShard) + " bytes with maxShardBytes " + policy.maxShardBytes()
          + " and path \"" + path + "\"; raise maxShardBytes or lower maxTotalBytes");
    }
    for (int i = 0, from = 0; i < count; i++, from += perShard) {
      String part = value.substring(from, Math.min(value.length(), from + perShard));
      out.add(cookie(shard(name, i), i == 0 ? count + "." + part : part, maxAge, expires, secure, sameSite, path));
    }
    if (request.value(name) != null) {
      out.add(removal(name, secure, sameSite, path));
    }
    addRemovals(out, name, count, secure, sameSite, request, path);
  }

  /**
   * Removals for {@code name}'s forms in the request: the plain cookie when {@code fromShard} is -1,
   * and shards from {@code fromShard} (or 0) on.
   */
  private void addRemovals(
      List<SetCookie> out, String name, int fromShard, boolean secure, SameSite sameSite, CookieSource request, String path) {
    if (fromShard < 0 && request.value(name) != null) {
      out.add(removal(name, secure, sameSite, path));
    }
    String[] shards = names(name);
    for (int i = Math.max(0, fromShard); i <= maxShards && request.value(shards[i]) != null; i++) {
      out.add(removal(shards[i], secure, sameSite, path));
    }
  }

  private SetCookie cookie(String name, String value, Duration maxAge, Instant expires, boolean secure, SameSite sameSite, String path) {
    return new SetCookie(name, value, path, policy.domain(), maxAge, expires, secure, true, sameSite);
  }

  private SetCookie removal(String name, boolean secure, SameSite sameSite, String path) {
    return new SetCookie(name, "", path, policy.domain(), Duration.ZERO, EPOCH, secure, true, sameSite);
  }
}
