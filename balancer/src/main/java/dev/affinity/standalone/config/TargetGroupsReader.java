package dev.affinity.standalone.config;

import dev.affinity.balancer.HealthCheckSettings;
import dev.affinity.balancer.PassiveHealth;
import dev.affinity.balancer.Target;
import dev.affinity.balancer.TargetGroup;
import dev.affinity.balancer.TargetProtocol;
import dev.affinity.balancer.TargetUri;
import dev.affinity.tls.KeyMaterialException;
import dev.affinity.tls.Pem;
import dev.affinity.tls.TargetTls;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code targetGroups: [ { name, algorithm, stickiness, healthCheck, passiveHealth, upstream, slowStart,
 * deregistrationDelay, boundedLoad, targets: [ { id, uri, weight } ], discovery } ]}. A group may have both
 * {@code targets} and {@code discovery} (see {@link DiscoveryReader}). Group names and target ids follow core's rules
 * ({@link TargetGroup#builder}, {@link Target}); uniqueness across the file is checked here, where
 * the first use's line is known.
 */
final class TargetGroupsReader {
  private static final Duration MAX_SLOW_START = Duration.ofMinutes(15);
  private static final Duration MAX_DEREGISTRATION_DELAY = Duration.ofHours(1);
  static final Schema TARGET = Schema.keys("id", "uri", "weight");
  static final Schema BOUNDED_LOAD = Schema.keys("factor");
  /** A group's own upstream timeouts; each key absent keeps the top-level {@code upstream:} value. */
  static final Schema UPSTREAM = Schema.keys("timeout", "connectTimeout");
  /** TLS to the group's {@code https://} targets. */
  static final Schema TLS = Schema.keys("ca", "serverName", "clientCert").map("clientCert", ListenReader.CERTIFICATE);
  static final Schema SCHEMA = Schema.keys("name", "algorithm", "protocolVersion", "stickiness", "healthCheck", "passiveHealth",
          "upstream", "slowStart", "deregistrationDelay", "boundedLoad", "targets", "discovery", "sharedSessions", "tls")
      .map("tls", TLS)
      .map("stickiness", StickinessReader.SCHEMA)
      .map("healthCheck", HealthCheckReader.SCHEMA)
      .map("passiveHealth", PassiveHealthReader.SCHEMA)
      .map("upstream", UPSTREAM)
      .map("boundedLoad", BOUNDED_LOAD)
      .listOf("targets", TARGET)
      .map("discovery", DiscoveryReader.SCHEMA);

  private final Map<String, Integer> names = new LinkedHashMap<>();
  private final Map<String, YamlNode> targetIds = new LinkedHashMap<>();

  private TargetGroupsReader() {}

  static List<TargetGroupConfig> read(YamlNode node) {
    List<YamlNode> entries = node.list();
    if (entries.isEmpty()) {
      throw node.error("must list at least one target group");
    }
    TargetGroupsReader reader = new TargetGroupsReader();
    List<TargetGroupConfig> groups = new ArrayList<>();
    for (YamlNode entry : entries) {
      groups.add(reader.group(entry));
    }
    return List.copyOf(groups);
  }

  private TargetGroupConfig group(YamlNode node) {
    YamlNode.Mapping s = node.map(SCHEMA);
    YamlNode nameNode = s.required("name", "a group name such as blue");
    String name = nameNode.string();
    nameNode.core(() -> TargetGroup.builder(name));
    Integer firstLine = names.putIfAbsent(name, nameNode.line());
    if (firstLine != null) {
      throw nameNode.error("target group " + YamlNode.quote(name) + " is already defined at line " + firstLine);
    }
    String algorithm = TargetGroupConfig.ROUND_ROBIN;
    if (s.has("algorithm")) {
      YamlNode a = s.get("algorithm");
      algorithm = a.string().toLowerCase(Locale.ROOT);
      if (!TargetGroupConfig.ALGORITHMS.contains(algorithm)) {
        throw a.error("must be one of " + String.join(", ", TargetGroupConfig.ALGORITHMS) + ", got " + YamlNode.quote(a.string()));
      }
    }
    TargetProtocol protocolVersion = s.has("protocolVersion") ? protocolVersion(s.get("protocolVersion")) : TargetProtocol.HTTP1;
    StickinessConfig stickiness = s.has("stickiness") ? StickinessReader.read(s.get("stickiness")) : StickinessConfig.none();
    HealthCheckConfig healthCheck = s.has("healthCheck") ? HealthCheckReader.read(s.get("healthCheck"), protocolVersion)
        : HealthCheckConfig.defaults();
    PassiveHealth passiveHealth = s.has("passiveHealth") ? PassiveHealthReader.read(s.get("passiveHealth")) : PassiveHealth.defaults();
    Duration upstreamTimeout = null;
    Duration upstreamConnectTimeout = null;
    if (s.has("upstream")) {
      YamlNode.Mapping u = s.get("upstream").map(UPSTREAM);
      if (!u.has("timeout") && !u.has("connectTimeout")) {
        throw s.get("upstream").error("must set timeout, connectTimeout or both (without them the top-level upstream: applies; remove it)");
      }
      upstreamTimeout = u.has("timeout") ? UpstreamReader.timeout(u.get("timeout")) : null;
      upstreamConnectTimeout = u.has("connectTimeout") ? UpstreamReader.connectTimeout(u.get("connectTimeout")) : null;
    }
    Duration slowStart = s.has("slowStart")
        ? s.get("slowStart").duration(Duration.ZERO, MAX_SLOW_START, "must be between PT0S (off) and 15 minutes (PT15M)")
        : TargetGroupConfig.DEFAULT_SLOW_START;
    Duration deregistrationDelay = s.has("deregistrationDelay")
        ? s.get("deregistrationDelay").duration(Duration.ZERO, MAX_DEREGISTRATION_DELAY, "must be between PT0S and 1 hour (PT1H)")
        : TargetGroupConfig.DEFAULT_DEREGISTRATION_DELAY;
    Double boundedLoadFactor = null;
    if (s.has("boundedLoad")) {
      YamlNode f = s.get("boundedLoad").map(BOUNDED_LOAD)
          .required("factor", "how far above the group mean a target may go, e.g. 1.25");
      double factor = f.decimal();
      if (!(factor > 1.0) || factor > 100) {
        throw f.error("must be above 1.0 and at most 100, got " + YamlNode.quote(f.string()));
      }
      boundedLoadFactor = factor;
    }
    List<TargetConfig> targets = new ArrayList<>();
    if (s.has("targets")) {
      for (YamlNode t : s.get("targets").list()) {
        targets.add(target(t));
      }
    }
    // Static targets beside discovery are allowed: a group moves from a fixed list to DNS (or back) without
    // a moment with no targets, and static ones are a floor no NXDOMAIN removes.
    DiscoveryConfig discovery = s.has("discovery") ? DiscoveryReader.read(s.get("discovery")) : null;
    boolean sharedSessions = s.has("sharedSessions") && s.get("sharedSessions").bool();
    TargetTls tls = s.has("tls") ? tls(s.get("tls"), targets, discovery) : null;
    return new TargetGroupConfig(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay,
        boundedLoadFactor, targets, protocolVersion, passiveHealth, upstreamTimeout, upstreamConnectTimeout, discovery, sharedSessions, tls);
  }

  /**
   * {@code tls: { ca, serverName, clientCert: { cert, key } }}: read here, once, so that a CA bundle
   * without a certificate or a client key that is not its certificate's stops the load at its line.
   * Only {@code https://} targets speak TLS, so a group whose targets are plain would not use it: refused.
   */
  private static TargetTls tls(YamlNode node, List<TargetConfig> targets, DiscoveryConfig discovery) {
    YamlNode.Mapping t = node.map(TLS);
    if (!t.has("ca") && !t.has("serverName") && !t.has("clientCert")) {
      throw node.error("must set ca, serverName, clientCert or several (without them https:// targets are checked against"
          + " the JDK's trust store and their own host names; remove tls:)");
    }
    for (TargetConfig target : targets) {
      if (!"https".equals(target.uri().getScheme())) {
        throw node.error("applies to https:// targets, but target " + YamlNode.quote(target.id()) + " is " + target.uri()
            + "; make the targets https:// or remove tls:");
      }
    }
    if (discovery != null && !"https".equals(discovery.scheme())) {
      throw node.error("applies to https:// targets, but discovery makes " + discovery.scheme()
          + ":// ones; set discovery.scheme: https or remove tls:");
    }
    TargetTls.Builder builder = TargetTls.builder();
    if (t.has("ca")) {
      YamlNode caNode = t.get("ca");
      Path ca = caNode.filePath();
      try {
        Pem.trustStore(ca);
      } catch (KeyMaterialException e) {
        throw caNode.error(e.getMessage());
      }
      builder.ca(ca);
    }
    if (t.has("serverName")) {
      YamlNode nameNode = t.get("serverName");
      String serverName = nameNode.string();
      try {
        builder.serverName(serverName);
      } catch (IllegalArgumentException e) {
        throw nameNode.error(e.getMessage());
      }
    }
    if (t.has("clientCert")) {
      builder.clientCertificate(ListenReader.pemPair(t.get("clientCert")));
    }
    try {
      return builder.build();
    } catch (KeyMaterialException e) {
      throw node.error(e.getMessage());
    }
  }

  /** {@code HTTP1}, {@code HTTP2} or {@code GRPC} (HTTP/2 with gRPC health checks), in any case. */
  private static TargetProtocol protocolVersion(YamlNode node) {
    String value = node.string().toUpperCase(Locale.ROOT);
    return switch (value) {
      case "HTTP1" -> TargetProtocol.HTTP1;
      case "HTTP2" -> TargetProtocol.HTTP2;
      case "GRPC" -> TargetProtocol.GRPC;
      default -> throw node.error("must be one of HTTP1, HTTP2, GRPC, got " + YamlNode.quote(node.string()));
    };
  }

  private TargetConfig target(YamlNode node) {
    YamlNode.Mapping s = node.map(TARGET);
    YamlNode idNode = s.required("id", "a target id such as blue-1, unique across all groups");
    String id = idNode.string();
    // Core's id rule, checked before the uri so that a bad id is reported first, as it comes first.
    idNode.core(() -> new Target(id, URI.create("http://127.0.0.1:1"), Target.MAX_WEIGHT, HealthCheckSettings.defaults()));
    YamlNode first = targetIds.putIfAbsent(id, idNode);
    if (first != null) {
      throw idNode.error("target id " + YamlNode.quote(id) + " is already used at line " + first.line() + " ("
          + first.path() + "); ids must be unique across all groups");
    }
    URI uri = uri(s.required("uri", "the target's base URI such as \"http://127.0.0.1:9001\""));
    int weight = s.has("weight") ? s.get("weight").integer(0, Target.MAX_WEIGHT) : TargetConfig.DEFAULT_WEIGHT;
    return new TargetConfig(id, uri, weight);
  }

  /** Stricter than core, which takes any http(s) URI: the file must name the port, as a typo there is easy to miss. */
  private static URI uri(YamlNode node) {
    String text = node.string();
    try {
      return TargetUri.parse(text);
    } catch (IllegalArgumentException e) {
      throw node.error(e.getMessage());
    }
  }

}
