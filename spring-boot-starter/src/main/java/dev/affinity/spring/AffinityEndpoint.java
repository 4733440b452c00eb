package dev.affinity.spring;

import dev.affinity.cookie.CookieNames;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.filter.AffinityFilterConfig;
import dev.affinity.route.RouteSettings;
import dev.affinity.session.SessionMode;
import dev.affinity.session.SessionSettings;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * {@code /actuator/affinity}: the filter's effective configuration. Key ids but never key material;
 * the Redis URI without its password. Expose it like any endpoint
 * ({@code management.endpoints.web.exposure.include=affinity}).
 */
@Endpoint(id = "affinity")
public class AffinityEndpoint {
  private final ObjectProvider<AffinityFilterConfig> config;
  private final AffinityProperties properties;

  AffinityEndpoint(ObjectProvider<AffinityFilterConfig> config, AffinityProperties properties) {
    this.config = config;
    this.properties = properties;
  }

  @ReadOperation
  public Map<String, Object> affinity() {
    AffinityFilterConfig c = config.getIfAvailable();
    if (c == null) {
      Map<String, Object> none = new LinkedHashMap<>();
      none.put("filter", "not registered by the starter (the application registers its own AffinityFilter)");
      return none;
    }
    return describe(c, properties.getFilterOrder());
  }

  /** The configuration as the endpoint shows it. */
  static Map<String, Object> describe(AffinityFilterConfig config, int filterOrder) {
    RouteSettings route = config.settings();
    CookiePolicy policy = route.cookiePolicy();
    CookieNames names = policy.names();
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("targetId", route.targetId());
    out.put("targetGroup", route.targetGroup());
    out.put("pinDuration", route.pinDuration().toString());
    out.put("pinOnSessionCreate", route.pinOnSessionCreate());

    Map<String, Object> cookie = new LinkedHashMap<>();
    cookie.put("name", names.route());
    if (policy.cors()) {
      cookie.put("corsName", CookieNames.corsCompanion(names.route()));
    }
    cookie.put("prefix", names.prefix());
    cookie.put("sameSite", policy.sameSite().attributeValue());
    cookie.put("secure", policy.secureMode().name().toLowerCase(java.util.Locale.ROOT));
    cookie.put("path", policy.path());
    if (policy.domain() != null) {
      cookie.put("domain", policy.domain());
    }
    cookie.put("httpOnly", true);
    out.put("routeCookie", cookie);

    Map<String, Object> keys = new LinkedHashMap<>();
    keys.put("primary", route.keyring().primaryId());
    keys.put("ids", route.keyring().ids());
    keys.put("ephemeral", route.keyring().isEphemeral());
    out.put("keys", keys);

    SessionSettings sessions = config.sessions();
    Map<String, Object> session = new LinkedHashMap<>();
    session.put("mode", sessions.mode().value());
    if (sessions.mode() != SessionMode.CONTAINER) {
      session.put("cookieName", names.session());
      session.put("maxBytes", sessions.maxBytes());
      session.put("rotateOnPin", sessions.rotateOnPin());
      session.put("allowedClasses", sessions.allowedClasses());
    }
    if (sessions.mode() == SessionMode.REDIS) {
      session.put("redisUri", sessions.redactedUri());
      session.put("redisKeyPrefix", sessions.keyPrefix());
      session.put("nearCacheSize", sessions.nearCacheSize());
      session.put("nearCacheTtl", sessions.nearCacheTtl().toString());
    }
    out.put("session", session);
    out.put("filterOrder", filterOrder);
    return out;
  }
}
