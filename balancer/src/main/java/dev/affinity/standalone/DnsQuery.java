package dev.affinity.standalone;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.Target;
import dev.affinity.standalone.config.DiscoveryConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * One round of DNS discovery for one group: asks the resolvers and turns the answer into targets.
 *
 * <p>Resolvers are asked in order, each given {@code timeout}; the first one that answers decides (records,
 * NXDOMAIN or no records of the type). A timeout, a network error, SERVFAIL or REFUSED passes to the next;
 * when none answers the round {@link Failed}, and the caller keeps the last good answer.
 *
 * <p>Target ids come from the record, so every balancer instance seals the same ones: {@code host_port}
 * ({@code 10.0.0.7_8080}, {@code api-1.internal_8443}), as core's ids allow letters, digits, {@code . _ -}
 * and no colon; an IPv6 address has its colons spelt {@code -}. An id that would pass 64 characters keeps
 * its first 55 and ends with {@code -} and 8 hex digits of its SHA-256.
 *
 * <p>SRV: the records of the lowest priority number are the targets, weighted by their SRV weight
 * (as is up to 999, core's largest weight; scaled down in proportion above it; a weight of 0 becomes 1, the
 * smallest share, and all-0 records share equally). Records of higher priority numbers become targets of
 * weight 0: they take no new clients but keep the clients pinned to them, so moving a record to a higher
 * priority number drains it softly. Each SRV target name is resolved (A, then AAAA) through the same
 * resolvers; its lowest address is the one dialled, its name and port make the id.
 */
final class DnsQuery {
  /** The answer's records asked no sooner than this, however short their TTL. */
  static final Duration MIN_TTL = Duration.ofSeconds(1);

  /** One target a DNS answer names. */
  record Discovered(String id, URI uri, int weight) {
    Discovered {
      requireNonNull(id, "id");
      requireNonNull(uri, "uri");
    }
  }

  /** What a round found out. */
  sealed interface Answer permits Found, Nothing, Failed {}

  /** Records, and the shortest TTL among those used. */
  record Found(List<Discovered> targets, Duration ttl) implements Answer {}

  /** An NXDOMAIN, or no records of the type: the name says there is no target. */
  record Nothing(String why) implements Answer {}

  /** No resolver answered: nothing is known. */
  record Failed(String why) implements Answer {}

  private static final class NoAnswer extends Exception {
    NoAnswer(String message) {
      super(message, null, false, false);
    }
  }

  private final DiscoveryConfig config;
  private final List<InetSocketAddress> resolvers;
  private Duration ttl;

  private DnsQuery(DiscoveryConfig config) {
    this.config = config;
    this.resolvers = config.resolvers().isEmpty() ? ResolverConfig.getCurrentConfig().servers() : config.resolvers();
  }

  static Answer ask(DiscoveryConfig config) {
    requireNonNull(config, "config");
    return new DnsQuery(config).ask();
  }

  private Answer ask() {
    ttl = null;
    try {
      return switch (config.type()) {
        case A, AAAA -> addresses();
        case SRV -> services();
      };
    } catch (NoAnswer e) {
      return new Failed(e.getMessage());
    }
  }

  private Answer addresses() throws NoAnswer {
    int type = config.type() == DiscoveryConfig.Type.A ? Type.A : Type.AAAA;
    Message m = send(config.dns(), type);
    if (m.getRcode() == Rcode.NXDOMAIN) {
      return new Nothing("NXDOMAIN");
    }
    List<InetAddress> addresses = addressesIn(m, type);
    if (addresses.isEmpty()) {
      return new Nothing("no " + Type.string(type) + " records");
    }
    Map<String, Discovered> targets = new LinkedHashMap<>();
    for (InetAddress a : addresses) {
      Discovered d = discovered(a.getHostAddress(), a, config.port(), 1);
      targets.putIfAbsent(d.id(), d);
    }
    return new Found(List.copyOf(targets.values()), ttl);
  }

  private Answer services() throws NoAnswer {
    Message m = send(config.dns(), Type.SRV);
    if (m.getRcode() == Rcode.NXDOMAIN) {
      return new Nothing("NXDOMAIN");
    }
    List<SRVRecord> records = new ArrayList<>();
    for (Record r : m.getSection(Section.ANSWER)) {
      noteTtl(r);
      // A target of "." says the service is decidedly not available at this name (RFC 2782).
      if (r instanceof SRVRecord srv && !srv.getTarget().equals(Name.root)) {
        records.add(srv);
      }
    }
    if (records.isEmpty()) {
      return new Nothing("no SRV records");
    }
    records.sort(Comparator.comparingInt(SRVRecord::getPriority)
        .thenComparing(r -> r.getTarget().toString(true).toLowerCase(Locale.ROOT)).thenComparingInt(SRVRecord::getPort));
    int lowest = records.get(0).getPriority();
    List<SRVRecord> primaries = records.stream().filter(r -> r.getPriority() == lowest).toList();
    int maxWeight = primaries.stream().mapToInt(SRVRecord::getWeight).max().orElse(0);
    Map<String, Discovered> targets = new LinkedHashMap<>();
    for (SRVRecord r : records) {
      String host = r.getTarget().toString(true).toLowerCase(Locale.ROOT);
      InetAddress address = firstAddress(r.getTarget(), m);
      if (address == null) {
        continue;
      }
      int weight = r.getPriority() == lowest ? weight(r.getWeight(), maxWeight) : 0;
      Discovered d = discovered(host, address, r.getPort(), weight);
      targets.putIfAbsent(d.id(), d);
    }
    if (targets.isEmpty()) {
      return new Nothing("no SRV target name resolves to an address");
    }
    return new Found(List.copyOf(targets.values()), ttl);
  }

  /** An SRV weight (0-65535) as a target weight (1-999), see the class comment. */
  static int weight(int srvWeight, int maxInPriority) {
    if (maxInPriority == 0) {
      return 1;
    }
    if (maxInPriority <= Target.MAX_WEIGHT) {
      return Math.max(1, srvWeight);
    }
    return (int) Math.max(1, Math.round((double) srvWeight * Target.MAX_WEIGHT / maxInPriority));
  }

  /** The lowest address of {@code name}: from the answer's additional section when there, else asked (A, then AAAA). */
  private InetAddress firstAddress(Name name, Message srvAnswer) throws NoAnswer {
    List<InetAddress> found = new ArrayList<>();
    for (Record r : srvAnswer.getSection(Section.ADDITIONAL)) {
      if (r.getName().equals(name) && (r instanceof ARecord || r instanceof AAAARecord)) {
        noteTtl(r);
        found.add(r instanceof ARecord a ? a.getAddress() : ((AAAARecord) r).getAddress());
      }
    }
    if (found.isEmpty()) {
      String host = name.toString(true);
      found = addressesIn(send(host, Type.A), Type.A);
      if (found.isEmpty()) {
        found = addressesIn(send(host, Type.AAAA), Type.AAAA);
      }
    }
    return found.stream().min(Comparator.comparing(DnsQuery::sortKey)).orElse(null);
  }

  private static String sortKey(InetAddress a) {
    return HexFormat.of().formatHex(a.getAddress());
  }

  private List<InetAddress> addressesIn(Message m, int type) {
    List<InetAddress> addresses = new ArrayList<>();
    for (Record r : m.getSection(Section.ANSWER)) {
      noteTtl(r);
      if (r.getType() == type) {
        addresses.add(r instanceof ARecord a ? a.getAddress() : ((AAAARecord) r).getAddress());
      }
    }
    addresses.sort(Comparator.comparing(DnsQuery::sortKey));
    return addresses;
  }

  private void noteTtl(Record r) {
    Duration t = Duration.ofSeconds(r.getTTL());
    if (t.compareTo(MIN_TTL) < 0) {
      t = MIN_TTL;
    }
    if (ttl == null || t.compareTo(ttl) < 0) {
      ttl = t;
    }
  }

  private Discovered discovered(String host, InetAddress address, int port, int weight) {
    String literal = address.getHostAddress();
    String authority = (literal.indexOf(':') >= 0 ? "[" + literal + "]" : literal) + ":" + port;
    return new Discovered(targetId(host, port), URI.create(config.scheme() + "://" + authority), weight);
  }

  /** {@code host_port}, as core's ids allow: see the class comment. */
  static String targetId(String host, int port) {
    String id = host.toLowerCase(Locale.ROOT).replace(':', '-') + "_" + port;
    if (id.length() <= 64) {
      return id;
    }
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8));
      return id.substring(0, 55) + "-" + HexFormat.of().formatHex(digest, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JVM", e);
    }
  }

  /** The first answer (NOERROR or NXDOMAIN) from the resolvers in order. */
  private Message send(String host, int type) throws NoAnswer {
    Record question;
    try {
      question = Record.newRecord(Name.fromString(host, Name.root), type, DClass.IN);
    } catch (TextParseException e) {
      throw new NoAnswer(host + " is not a DNS name: " + e.getMessage());
    }
    if (resolvers.isEmpty()) {
      throw new NoAnswer("no resolver configured and none in the system's configuration");
    }
    List<String> failures = new ArrayList<>();
    for (InetSocketAddress address : resolvers) {
      SimpleResolver resolver = new SimpleResolver(address);
      resolver.setTimeout(config.timeout());
      try {
        Message answer = resolver.send(Message.newQuery(question));
        int rcode = answer.getRcode();
        if (rcode == Rcode.NOERROR || rcode == Rcode.NXDOMAIN) {
          return answer;
        }
        failures.add(address + " " + Rcode.string(rcode));
      } catch (IOException e) {
        failures.add(address + " " + e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
      }
    }
    throw new NoAnswer(Type.string(type) + " " + host + ": " + String.join("; ", failures));
  }
}
