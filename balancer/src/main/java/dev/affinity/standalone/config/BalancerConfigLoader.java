package dev.affinity.standalone.config;

import static java.util.Objects.requireNonNull;

import dev.affinity.balancer.StickinessPolicy;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import java.io.IOException;
import java.io.StringReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.composer.Composer;
import org.snakeyaml.engine.v2.events.CollectionEndEvent;
import org.snakeyaml.engine.v2.events.CollectionStartEvent;
import org.snakeyaml.engine.v2.events.Event;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.ReaderException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.SequenceNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.parser.Parser;
import org.snakeyaml.engine.v2.parser.ParserImpl;
import org.snakeyaml.engine.v2.scanner.StreamReader;
import org.snakeyaml.engine.v2.schema.CoreSchema;

/**
 * Reads and validates the standalone balancer's YAML file (schema: DESIGN.md, "Standalone launcher
 * configuration"). Every problem, YAML syntax included, becomes a {@link ConfigException} whose
 * one-line message names the file, the line, the key path and what is wrong; nothing else escapes.
 *
 * <p>The file is composed into SnakeYAML Engine nodes (which keep their line numbers) and walked by
 * schema: unknown and duplicate keys are refused, values are checked as they are read, and the
 * cross-checks (unique names and ids, forward groups that exist, key and cookie settings through
 * core's builders) point at the line of the value that breaks them. Limits keep hostile input
 * cheap: at most {@value #MAX_CHARS} characters, {@value #MAX_DEPTH} levels of nesting (checked on
 * the event stream as the composer pulls it, so deep nesting cannot overflow the stack) and
 * {@value #MAX_ALIASES} aliases.
 */
public final class BalancerConfigLoader {
  /** Largest file accepted, in characters. */
  public static final int MAX_CHARS = 1024 * 1024;
  static final int MAX_DEPTH = 32;
  static final int MAX_ALIASES = 50;
  static final int MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024 * 1024;

  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final String NAME_RULE = "must be 1-64 characters of A-Z a-z 0-9 . _ -";
  private static final Pattern INTEGER = Pattern.compile("[-+]?[0-9]+(_[0-9]+)*");
  private static final Pattern DECIMAL = Pattern.compile("[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?");
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._:%\\[\\]-]{1,253}");
  private static final Pattern ADMIN_PATH = Pattern.compile("(/[A-Za-z0-9._~-]+)+");
  private static final Pattern HEALTH_PATH = Pattern.compile("/[A-Za-z0-9\\-._~!$&'()*+,;=:@/%?]{0,2047}");
  private static final Pattern MATCHER = Pattern.compile("([0-9]{3})(?:\\s*-\\s*([0-9]{3}))?");
  /** Immutable once built (its resolvers only match), so one serves every parse. */
  private static final CoreSchema SCHEMA = new CoreSchema();
  private static final Set<Tag> PLAIN_TAGS = Set.of(Tag.STR, Tag.INT, Tag.FLOAT, Tag.BOOL, Tag.NULL, Tag.MAP, Tag.SEQ);

  private static final Duration MIN_HEALTH_INTERVAL = Duration.ofMillis(100);
  private static final Duration MAX_HEALTH_INTERVAL = Duration.ofMinutes(5);
  private static final Duration MAX_SLOW_START = Duration.ofMinutes(15);
  private static final Duration MAX_DEREGISTRATION_DELAY = Duration.ofHours(1);
  private static final Duration MIN_IDLE_TIMEOUT = Duration.ofSeconds(1);
  private static final Duration MAX_IDLE_TIMEOUT = Duration.ofDays(1);
  private static final Duration MIN_UPSTREAM_TIMEOUT = Duration.ofMillis(100);
  private static final Duration MAX_CONNECT_TIMEOUT = Duration.ofMinutes(5);

  private static final List<String> TOP_KEYS =
      List.of("listen", "keys", "cookies", "targetGroups", "forward", "groupStickiness", "admin", "websocket", "upstream");

  private BalancerConfigLoader() {}

  /** Reads a UTF-8 YAML file; the file name as given is the message's source. */
  public static BalancerConfig load(Path file) {
    requireNonNull(file, "file");
    String source = file.toString();
    byte[] bytes;
    try {
      if (Files.isDirectory(file)) {
        throw new ConfigException(source, 0, "", "is a directory, not a YAML file");
      }
      if (Files.size(file) > 4L * MAX_CHARS) {
        throw new ConfigException(source, 0, "", "the file is larger than " + MAX_CHARS + " characters");
      }
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(source, 0, "", "no such file", e);
    } catch (IOException | SecurityException e) {
      throw new ConfigException(source, 0, "", "cannot read the file: " + e, e);
    }
    return parse(decodeUtf8(bytes, source), source);
  }

  /**
   * Reads YAML text. {@code sourceName} (a file name, say) starts every error message.
   *
   * @throws ConfigException for every problem, with the line and key path where it lies
   */
  public static BalancerConfig parse(String yaml, String sourceName) {
    requireNonNull(yaml, "yaml");
    String source = sourceName == null || sourceName.isEmpty() ? "<config>" : sourceName;
    try {
      return new Reader(source).read(yaml);
    } catch (ConfigException e) {
      throw e;
    } catch (RuntimeException | StackOverflowError e) {
      // A safety net: every known problem is reported above with a line; this one was not foreseen.
      throw new ConfigException(source, 0, "", "cannot read the configuration: " + e, e);
    }
  }

  private static String decodeUtf8(byte[] bytes, String source) {
    CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    try {
      return decoder.decode(in).toString();
    } catch (CharacterCodingException e) {
      // Find the first bad byte to name its line.
      int line = 1;
      ByteBuffer probe = ByteBuffer.wrap(bytes);
      CharsetDecoder strict = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT);
      java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
      strict.decode(probe, out, true);
      for (int i = 0; i < probe.position(); i++) {
        if (bytes[i] == '\n') {
          line++;
        }
      }
      throw new ConfigException(source, line, "", "the file is not valid UTF-8 (bad byte at offset " + probe.position() + ")", e);
    }
  }

  /** A value in the document: its node, the line to report, and its key path. */
  private record Item(Node node, int line, String path) {}

  /** One reading of one document; {@code source} starts every message. */
  private static final class Reader {
    private final String source;

    Reader(String source) {
      this.source = source;
    }

    ConfigException error(Item item, String problem) {
      return new ConfigException(source, item.line(), item.path(), problem);
    }

    ConfigException error(int line, String path, String problem) {
      return new ConfigException(source, line, path, problem);
    }

    BalancerConfig read(String yaml) {
      String text = !yaml.isEmpty() && yaml.charAt(0) == '\uFEFF' ? yaml.substring(1) : yaml;
      if (text.length() > MAX_CHARS) {
        throw error(0, "", "the file is larger than " + MAX_CHARS + " characters");
      }
      LoadSettings settings = LoadSettings.builder()
          .setLabel(source)
          .setSchema(SCHEMA)
          .setAllowDuplicateKeys(false)
          .setAllowRecursiveKeys(false)
          .setAllowNonScalarKeys(true) // reported below with a line and key path
          .setMaxAliasesForCollections(MAX_ALIASES)
          .setCodePointLimit(MAX_CHARS + 1)
          .setParseComments(false)
          .setUseMarks(true)
          .build();
      Optional<Node> root;
      try {
        Parser parser = new DepthLimitedParser(new ParserImpl(settings, new StreamReader(settings, new StringReader(text))));
        root = new Composer(settings, parser).getSingleNode();
      } catch (MarkedYamlEngineException e) {
        throw syntaxError(e);
      } catch (ReaderException e) {
        throw error(lineAtCodePoint(text, e.getPosition()), "",
            "invalid YAML: " + e.getMessage() + " (code point " + String.format("U+%04X", e.getCodePoint()) + ")");
      } catch (YamlEngineException e) {
        throw error(0, "", "invalid YAML: " + e.getMessage());
      }
      if (root.isEmpty() || isNull(root.get())) {
        throw error(0, "", "the file is empty (or only comments); it needs at least targetGroups with their targets");
      }
      Item rootItem = new Item(root.get(), lineOf(root.get(), 1), "");
      if (!(root.get() instanceof MappingNode)) {
        throw error(rootItem, "the top level must be a map of settings (" + String.join(", ", TOP_KEYS)
            + "), got " + describe(root.get()));
      }
      return balancer(rootItem);
    }

    /**
     * Hands events to the (recursive) composer and refuses deep nesting before the composer's stack
     * grows with it; the parser itself is iterative.
     */
    private final class DepthLimitedParser implements Parser {
      private final Parser delegate;
      private int depth;

      DepthLimitedParser(Parser delegate) {
        this.delegate = delegate;
      }

      @Override
      public boolean checkEvent(Event.ID id) {
        return delegate.checkEvent(id);
      }

      @Override
      public Event peekEvent() {
        return delegate.peekEvent();
      }

      @Override
      public boolean hasNext() {
        return delegate.hasNext();
      }

      @Override
      public Event next() {
        Event event = delegate.next();
        if (event instanceof CollectionStartEvent) {
          if (++depth > MAX_DEPTH) {
            int line = event.getStartMark().map(m -> m.getLine() + 1).orElse(0);
            throw error(line, "", "nested more than " + MAX_DEPTH + " levels deep");
          }
        } else if (event instanceof CollectionEndEvent) {
          depth--;
        }
        return event;
      }
    }

    private ConfigException syntaxError(MarkedYamlEngineException e) {
      Optional<Mark> problemMark = e.getProblemMark();
      Optional<Mark> contextMark = e.getContextMark();
      int line = problemMark.or(() -> contextMark).map(m -> m.getLine() + 1).orElse(0);
      StringBuilder problem = new StringBuilder("invalid YAML: ");
      String what = e.getProblem() != null ? e.getProblem() : e.getContext();
      problem.append(what == null ? "syntax error" : what);
      if (e.getContext() != null && e.getProblem() != null) {
        problem.append(" (").append(e.getContext());
        contextMark.ifPresent(m -> problem.append(" started at line ").append(m.getLine() + 1));
        problem.append(')');
      }
      return error(line, "", problem.toString());
    }

    // ---------------------------------------------------------------- the schema

    private BalancerConfig balancer(Item rootItem) {
      Section top = new Section(rootItem, TOP_KEYS);
      Listen listen = top.has("listen") ? listen(top.get("listen")) : Listen.defaults();
      List<KeyConfig> keys = top.has("keys") ? keys(top.get("keys")) : List.of();
      CookieConfig cookies = top.has("cookies") ? cookies(top.get("cookies")) : CookieConfig.defaults();
      Item groupsItem = top.required("targetGroups", "list at least one target group with its targets");
      List<TargetGroupConfig> groups = targetGroups(groupsItem);
      List<ForwardConfig> forward = top.has("forward")
          ? forward(top.get("forward"), groups)
          : List.of(new ForwardConfig(groups.get(0).name(), ForwardConfig.DEFAULT_WEIGHT));
      Duration groupStickiness = top.has("groupStickiness") ? groupStickiness(top.get("groupStickiness")) : null;
      AdminConfig admin = top.has("admin") ? admin(top.get("admin"), listen) : AdminConfig.defaults();
      WebSocketConfig websocket = top.has("websocket") ? websocket(top.get("websocket")) : WebSocketConfig.defaults();
      UpstreamConfig upstream = top.has("upstream") ? upstream(top.get("upstream")) : UpstreamConfig.defaults();
      return new BalancerConfig(listen, keys, cookies, groups, forward, groupStickiness, admin, websocket, upstream);
    }

    private Listen listen(Item item) {
      Section s = new Section(item, List.of("host", "port", "tls"));
      String host = Listen.DEFAULT_HOST;
      if (s.has("host")) {
        Item h = s.get("host");
        host = string(h);
        if (!HOST.matcher(host).matches()) {
          throw error(h, "must be a host name or IP address to bind, got " + quote(host));
        }
      }
      int port = s.has("port") ? integer(s.get("port"), 0, 65535) : Listen.DEFAULT_PORT;
      TlsConfig tls = null;
      if (s.has("tls")) {
        Section t = new Section(s.get("tls"), List.of("keystore", "password"));
        Item keystoreItem = t.required("keystore", "the path of a PKCS#12 or JKS key store");
        String keystore = string(keystoreItem);
        if (keystore.isBlank()) {
          throw error(keystoreItem, "must be the path of a key store, got an empty string");
        }
        String password = string(t.required("password", "the key store password"));
        tls = new TlsConfig(keystore, password);
      }
      return new Listen(host, port, tls);
    }

    private List<KeyConfig> keys(Item item) {
      List<Item> entries = list(item);
      if (entries.isEmpty()) {
        throw error(item, "lists no key; add { id, secret } entries, or remove keys: to run with an ephemeral key");
      }
      Keyring.Builder keyring = Keyring.builder();
      List<KeyConfig> keys = new ArrayList<>();
      for (Item entry : entries) {
        Section s = new Section(entry, List.of("id", "secret"));
        Item idItem = s.required("id", "a short key id such as k1");
        Item secretItem = s.required("secret", "base64 of 32 random bytes, e.g. `openssl rand -base64 32`");
        String id = string(idItem);
        String secret = string(secretItem);
        try {
          keyring.addKey(id, secret);
        } catch (IllegalArgumentException e) {
          throw error(e.getMessage().startsWith("secret") ? secretItem : idItem, e.getMessage());
        }
        keys.add(new KeyConfig(id, secret));
      }
      keyring.build();
      return List.copyOf(keys);
    }

    private CookieConfig cookies(Item item) {
      Section s = new Section(item,
          List.of("prefix", "cors", "sameSite", "secure", "maxShardBytes", "maxTotalBytes"));
      CookiePolicy.Builder policy = CookiePolicy.builder();
      CookieConfig d = CookieConfig.defaults();
      String prefix = d.prefix();
      boolean cors = d.cors();
      SameSite sameSite = d.sameSite();
      SecureMode secure = d.secure();
      int maxShardBytes = d.maxShardBytes();
      int maxTotalBytes = d.maxTotalBytes();
      if (s.has("prefix")) {
        Item i = s.get("prefix");
        prefix = string(i);
        core(i, () -> policy.prefix(string(i)));
      }
      if (s.has("cors")) {
        cors = bool(s.get("cors"));
      }
      if (s.has("sameSite")) {
        Item i = s.get("sameSite");
        sameSite = core(i, () -> SameSite.parse(string(i)));
      }
      if (s.has("secure")) {
        Item i = s.get("secure");
        secure = core(i, () -> SecureMode.parse(string(i)));
      }
      if (s.has("maxShardBytes")) {
        Item i = s.get("maxShardBytes");
        maxShardBytes = integer(i, Integer.MIN_VALUE, Integer.MAX_VALUE);
        int value = maxShardBytes;
        core(i, () -> policy.maxShardBytes(value));
      }
      if (s.has("maxTotalBytes")) {
        Item i = s.get("maxTotalBytes");
        maxTotalBytes = integer(i, Integer.MIN_VALUE, Integer.MAX_VALUE);
        int value = maxTotalBytes;
        core(i, () -> policy.maxTotalBytes(value));
      }
      CookieConfig config = new CookieConfig(prefix, cors, sameSite, secure, maxShardBytes, maxTotalBytes);
      Item at = s.has("secure") ? s.get("secure") : s.has("sameSite") ? s.get("sameSite") : item;
      core(at, config::toPolicy);
      return config;
    }

    private List<TargetGroupConfig> targetGroups(Item item) {
      List<Item> entries = list(item);
      if (entries.isEmpty()) {
        throw error(item, "must list at least one target group");
      }
      Map<String, Integer> names = new LinkedHashMap<>();
      Map<String, Item> targetIds = new LinkedHashMap<>();
      List<TargetGroupConfig> groups = new ArrayList<>();
      for (Item entry : entries) {
        groups.add(targetGroup(entry, names, targetIds));
      }
      return List.copyOf(groups);
    }

    private TargetGroupConfig targetGroup(Item item, Map<String, Integer> names, Map<String, Item> targetIds) {
      Section s = new Section(item, List.of("name", "algorithm", "stickiness", "healthCheck", "slowStart",
          "deregistrationDelay", "boundedLoad", "targets"));
      Item nameItem = s.required("name", "a group name such as blue");
      String name = name(nameItem);
      Integer firstLine = names.putIfAbsent(name, nameItem.line());
      if (firstLine != null) {
        throw error(nameItem, "target group " + quote(name) + " is already defined at line " + firstLine);
      }
      String algorithm = TargetGroupConfig.ROUND_ROBIN;
      if (s.has("algorithm")) {
        Item a = s.get("algorithm");
        algorithm = string(a).toLowerCase(Locale.ROOT);
        if (!TargetGroupConfig.ALGORITHMS.contains(algorithm)) {
          throw error(a, "must be one of " + String.join(", ", TargetGroupConfig.ALGORITHMS) + ", got " + quote(string(a)));
        }
      }
      StickinessConfig stickiness = s.has("stickiness") ? stickiness(s.get("stickiness")) : StickinessConfig.none();
      HealthCheckConfig healthCheck = s.has("healthCheck") ? healthCheck(s.get("healthCheck")) : HealthCheckConfig.defaults();
      Duration slowStart = TargetGroupConfig.DEFAULT_SLOW_START;
      if (s.has("slowStart")) {
        slowStart = duration(s.get("slowStart"), Duration.ZERO, MAX_SLOW_START,
            "must be between PT0S (off) and 15 minutes (PT15M)");
      }
      Duration deregistrationDelay = TargetGroupConfig.DEFAULT_DEREGISTRATION_DELAY;
      if (s.has("deregistrationDelay")) {
        deregistrationDelay = duration(s.get("deregistrationDelay"), Duration.ZERO, MAX_DEREGISTRATION_DELAY,
            "must be between PT0S and 1 hour (PT1H)");
      }
      Double boundedLoadFactor = null;
      if (s.has("boundedLoad")) {
        Section b = new Section(s.get("boundedLoad"), List.of("factor"));
        Item f = b.required("factor", "how far above the group mean a target may go, e.g. 1.25");
        double factor = decimal(f);
        if (!(factor > 1.0) || factor > 100) {
          throw error(f, "must be above 1.0 and at most 100, got " + scalarText(f));
        }
        boundedLoadFactor = factor;
      }
      List<TargetConfig> targets = new ArrayList<>();
      if (s.has("targets")) {
        for (Item t : list(s.get("targets"))) {
          targets.add(target(t, targetIds));
        }
      }
      return new TargetGroupConfig(name, algorithm, stickiness, healthCheck, slowStart, deregistrationDelay,
          boundedLoadFactor, targets);
    }

    private TargetConfig target(Item item, Map<String, Item> targetIds) {
      Section s = new Section(item, List.of("id", "uri", "weight"));
      Item idItem = s.required("id", "a target id such as blue-1, unique across all groups");
      String id = name(idItem);
      Item first = targetIds.putIfAbsent(id, idItem);
      if (first != null) {
        throw error(idItem, "target id " + quote(id) + " is already used at line " + first.line() + " ("
            + first.path() + "); ids must be unique across all groups");
      }
      URI uri = targetUri(s.required("uri", "the target's base URI such as \"http://127.0.0.1:9001\""));
      int weight = s.has("weight") ? integer(s.get("weight"), 0, TargetConfig.MAX_WEIGHT) : TargetConfig.DEFAULT_WEIGHT;
      return new TargetConfig(id, uri, weight);
    }

    private URI targetUri(Item item) {
      String text = string(item);
      String rule = " must be an http or https URI with host and port";
      URI uri;
      try {
        uri = new URI(text);
      } catch (URISyntaxException e) {
        throw error(item, quote(text) + rule + " (" + e.getReason() + ")");
      }
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!(scheme.equals("http") || scheme.equals("https")) || uri.isOpaque() || uri.getHost() == null
          || uri.getPort() < 1 || uri.getPort() > 65535) {
        throw error(item, quote(text) + rule);
      }
      String path = uri.getRawPath();
      if ((path != null && !path.isEmpty() && !path.equals("/")) || uri.getRawQuery() != null
          || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
        throw error(item, quote(text) + " must be only scheme://host:port, without path, query, fragment or user info");
      }
      return URI.create(scheme + "://" + uri.getRawAuthority());
    }

    private StickinessConfig stickiness(Item item) {
      Section s = new Section(item, List.of("type", "duration", "sliding", "browserSession", "cookie"));
      StickinessConfig.Type type = StickinessConfig.Type.NONE;
      if (s.has("type")) {
        Item t = s.get("type");
        String value = string(t);
        try {
          type = StickinessConfig.Type.valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw error(t, "must be one of none, duration, application, got " + quote(value));
        }
      }
      if (type == StickinessConfig.Type.NONE) {
        for (String key : List.of("duration", "sliding", "browserSession", "cookie")) {
          if (s.has(key)) {
            throw error(s.get(key), "applies only to stickiness type duration or application, but type is none"
                + (s.has("type") ? "" : " (the default)"));
          }
        }
        return StickinessConfig.none();
      }
      Duration duration = StickinessConfig.DEFAULT_DURATION;
      if (s.has("duration")) {
        duration = stickinessDuration(s.get("duration"));
      }
      boolean sliding = !s.has("sliding") || bool(s.get("sliding"));
      boolean browserSession = s.has("browserSession") && bool(s.get("browserSession"));
      if (browserSession && !sliding) {
        throw error(s.get("sliding"), "must not be false with browserSession: true (browser-session cookies always slide)");
      }
      Expiry.Mode mode = browserSession ? Expiry.Mode.BROWSER_SESSION : sliding ? Expiry.Mode.SLIDING : Expiry.Mode.FIXED;
      String cookie = null;
      if (type == StickinessConfig.Type.APPLICATION) {
        Item c = s.required("cookie", "the application's session cookie for type application, e.g. JSESSIONID");
        cookie = string(c);
        String name = cookie;
        Duration d = duration;
        core(c, () -> StickinessPolicy.application(name, Expiry.sliding(d)));
      } else if (s.has("cookie")) {
        throw error(s.get("cookie"), "applies only to stickiness type application, but type is duration");
      }
      return new StickinessConfig(type, duration, mode, cookie);
    }

    private Duration stickinessDuration(Item item) {
      return duration(item, Expiry.MIN_DURATION, Expiry.MAX_DURATION, "must be between 1 second (PT1S) and 7 days (P7D)");
    }

    private HealthCheckConfig healthCheck(Item item) {
      Section s = new Section(item, List.of("enabled", "path", "interval", "timeout", "healthyThreshold",
          "unhealthyThreshold", "matcher"));
      HealthCheckConfig d = HealthCheckConfig.defaults();
      boolean enabled = !s.has("enabled") || bool(s.get("enabled"));
      String path = d.path();
      if (s.has("path")) {
        Item p = s.get("path");
        path = string(p);
        if (!HEALTH_PATH.matcher(path).matches()) {
          throw error(p, "must start with / and hold only URI path and query characters, got " + quote(path));
        }
      }
      Duration interval = d.interval();
      if (s.has("interval")) {
        interval = duration(s.get("interval"), MIN_HEALTH_INTERVAL, MAX_HEALTH_INTERVAL,
            "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M)");
      }
      Duration timeout = d.timeout();
      if (s.has("timeout")) {
        timeout = duration(s.get("timeout"), Duration.ofMillis(1), MAX_HEALTH_INTERVAL,
            "must be between 1 millisecond (PT0.001S) and 5 minutes (PT5M)");
      }
      if (timeout.compareTo(interval) >= 0) {
        if (s.has("timeout")) {
          throw error(s.get("timeout"), "must be shorter than the interval (" + interval
              + (s.has("interval") ? "" : ", the default") + "), got " + timeout);
        }
        throw error(s.get("interval"), "must be longer than the timeout (" + timeout
            + ", the default; set a shorter timeout too), got " + interval);
      }
      int healthy = s.has("healthyThreshold") ? integer(s.get("healthyThreshold"), 1, 10) : d.healthyThreshold();
      int unhealthy = s.has("unhealthyThreshold") ? integer(s.get("unhealthyThreshold"), 1, 10) : d.unhealthyThreshold();
      int low = d.matcherLow();
      int high = d.matcherHigh();
      if (s.has("matcher")) {
        Item m = s.get("matcher");
        String value = string(m).trim();
        Matcher matcher = MATCHER.matcher(value);
        String rule = "must be one HTTP status (\"200\") or a range (\"200-399\") within 100-599, got " + quote(value);
        if (!matcher.matches()) {
          throw error(m, rule);
        }
        low = Integer.parseInt(matcher.group(1));
        high = matcher.group(2) == null ? low : Integer.parseInt(matcher.group(2));
        if (low < 100 || high > 599 || low > high) {
          throw error(m, rule);
        }
      }
      return new HealthCheckConfig(enabled, path, interval, timeout, healthy, unhealthy, low, high);
    }

    private List<ForwardConfig> forward(Item item, List<TargetGroupConfig> groups) {
      List<Item> entries = list(item);
      if (entries.isEmpty()) {
        throw error(item, "must list at least one { group, weight }, or be left out to forward everything to the first group");
      }
      Map<String, Item> seen = new LinkedHashMap<>();
      List<ForwardConfig> forward = new ArrayList<>();
      int total = 0;
      for (Item entry : entries) {
        Section s = new Section(entry, List.of("group", "weight"));
        Item g = s.required("group", "the name of a target group");
        String group = string(g);
        if (groups.stream().noneMatch(tg -> tg.name().equals(group))) {
          throw error(g, quote(group) + " is not a target group; the groups are "
              + String.join(", ", groups.stream().map(TargetGroupConfig::name).toList()));
        }
        Item first = seen.putIfAbsent(group, g);
        if (first != null) {
          throw error(g, "group " + quote(group) + " is already listed at line " + first.line() + " (" + first.path() + ")");
        }
        int weight = s.has("weight") ? integer(s.get("weight"), 0, ForwardConfig.MAX_WEIGHT) : ForwardConfig.DEFAULT_WEIGHT;
        total += weight;
        forward.add(new ForwardConfig(group, weight));
      }
      if (total == 0) {
        throw error(item, "every weight is 0; at least one group needs a weight above 0");
      }
      return List.copyOf(forward);
    }

    private Duration groupStickiness(Item item) {
      Section s = new Section(item, List.of("duration"));
      return stickinessDuration(s.required("duration", "how long a client stays on one target group, e.g. PT24H"));
    }

    private AdminConfig admin(Item item, Listen listen) {
      Section s = new Section(item, List.of("path", "loopbackOnly", "port"));
      String path = AdminConfig.DEFAULT_PATH;
      if (s.has("path")) {
        Item p = s.get("path");
        path = string(p);
        if (!ADMIN_PATH.matcher(path).matches()) {
          throw error(p, "must start with / and not be / (e.g. /affinity), with segments of A-Z a-z 0-9 . _ ~ - and no trailing /, got "
              + quote(path));
        }
      }
      boolean loopbackOnly = !s.has("loopbackOnly") || bool(s.get("loopbackOnly"));
      Integer port = null;
      if (s.has("port")) {
        Item p = s.get("port");
        port = integer(p, 0, 65535);
        if (port != 0 && port == listen.port()) {
          throw error(p, "must differ from listen.port (" + listen.port()
              + "); leave admin.port out to serve the admin pages on the balancer's listener");
        }
      }
      return new AdminConfig(path, loopbackOnly, port);
    }

    private WebSocketConfig websocket(Item item) {
      Section s = new Section(item, List.of("maxMessageBytes", "idleTimeout"));
      int maxMessageBytes = s.has("maxMessageBytes")
          ? integer(s.get("maxMessageBytes"), 1, MAX_WEBSOCKET_MESSAGE_BYTES)
          : WebSocketConfig.DEFAULT_MAX_MESSAGE_BYTES;
      Duration idleTimeout = WebSocketConfig.DEFAULT_IDLE_TIMEOUT;
      if (s.has("idleTimeout")) {
        idleTimeout = duration(s.get("idleTimeout"), MIN_IDLE_TIMEOUT, MAX_IDLE_TIMEOUT,
            "must be between 1 second (PT1S) and 1 day (P1D)");
      }
      return new WebSocketConfig(maxMessageBytes, idleTimeout);
    }

    private UpstreamConfig upstream(Item item) {
      Section s = new Section(item, List.of("timeout", "connectTimeout", "directRelay"));
      Duration timeout = s.has("timeout")
          ? duration(s.get("timeout"), MIN_UPSTREAM_TIMEOUT, MAX_IDLE_TIMEOUT, "must be between 100 milliseconds (PT0.1S) and 1 day (P1D)")
          : UpstreamConfig.DEFAULT_TIMEOUT;
      Duration connectTimeout = s.has("connectTimeout")
          ? duration(s.get("connectTimeout"), MIN_UPSTREAM_TIMEOUT, MAX_CONNECT_TIMEOUT, "must be between 100 milliseconds (PT0.1S) and 5 minutes (PT5M)")
          : UpstreamConfig.DEFAULT_CONNECT_TIMEOUT;
      boolean directRelay = !s.has("directRelay") || bool(s.get("directRelay"));
      return new UpstreamConfig(timeout, connectTimeout, directRelay);
    }

    // ---------------------------------------------------------------- typed values

    /** Runs a core check, reporting its IllegalArgumentException/IllegalStateException at this item. */
    private <T> T core(Item item, java.util.function.Supplier<T> check) {
      try {
        return check.get();
      } catch (IllegalArgumentException | IllegalStateException e) {
        throw error(item, String.valueOf(e.getMessage()));
      }
    }

    private String name(Item item) {
      String value = string(item);
      if (!NAME.matcher(value).matches()) {
        throw error(item, NAME_RULE + ", got " + quote(value));
      }
      return value;
    }

    private List<Item> list(Item item) {
      checkTag(item);
      if (!(item.node() instanceof SequenceNode)) {
        throw error(item, "must be a list, got " + describe(item.node()));
      }
      List<Node> nodes = ((SequenceNode) item.node()).getValue();
      List<Item> items = new ArrayList<>(nodes.size());
      for (int i = 0; i < nodes.size(); i++) {
        Node node = nodes.get(i);
        items.add(new Item(node, lineOf(node, item.line()), item.path() + "[" + i + "]"));
      }
      return items;
    }

    private String string(Item item) {
      checkTag(item);
      Node node = item.node();
      if (!(node instanceof ScalarNode) || isNull(node)) {
        throw error(item, "must be a single value, got " + describe(node));
      }
      return ((ScalarNode) node).getValue();
    }

    private String scalarText(Item item) {
      return quote(string(item));
    }

    private int integer(Item item, int min, int max) {
      String value = string(item).trim();
      String range = min == Integer.MIN_VALUE ? "must be a whole number" : "must be a whole number between " + min + " and " + max;
      if (!INTEGER.matcher(value).matches()) {
        throw error(item, range + ", got " + quote(value));
      }
      long parsed;
      String digits = value.replace("_", "");
      if (digits.length() > 12) {
        throw error(item, range + ", got " + quote(value));
      }
      parsed = Long.parseLong(digits);
      if (parsed < min || parsed > max) {
        throw error(item, range + ", got " + parsed);
      }
      return (int) parsed;
    }

    private double decimal(Item item) {
      String value = string(item).trim();
      if (!DECIMAL.matcher(value).matches()) {
        throw error(item, "must be a number such as 1.25, got " + quote(value));
      }
      double parsed = Double.parseDouble(value);
      if (!Double.isFinite(parsed)) {
        throw error(item, "must be a finite number, got " + quote(value));
      }
      return parsed;
    }

    private boolean bool(Item item) {
      String value = string(item).trim();
      if (value.equalsIgnoreCase("true")) {
        return true;
      }
      if (value.equalsIgnoreCase("false")) {
        return false;
      }
      throw error(item, "must be true or false, got " + quote(value));
    }

    /** An ISO-8601 duration ({@code PT30S}, {@code P1D}) or a whole number of seconds, within bounds. */
    private Duration duration(Item item, Duration min, Duration max, String rule) {
      String value = string(item).trim();
      Duration parsed;
      if (INTEGER.matcher(value).matches()) {
        String digits = value.replace("_", "");
        if (digits.length() > 12) {
          throw error(item, rule + ", got " + quote(value) + " seconds");
        }
        parsed = Duration.ofSeconds(Long.parseLong(digits));
      } else {
        try {
          parsed = Duration.parse(value);
        } catch (RuntimeException e) {
          throw error(item, "must be an ISO-8601 duration such as PT30S, PT5M or P1D, or a whole number of seconds, got "
              + quote(value));
        }
      }
      if (parsed.compareTo(min) < 0 || parsed.compareTo(max) > 0) {
        throw error(item, rule + ", got " + parsed);
      }
      return parsed;
    }

    private void checkTag(Item item) {
      Tag tag = item.node().getTag();
      if (!PLAIN_TAGS.contains(tag)) {
        throw error(item, "uses the YAML tag " + shorten(tag.getValue(), 40) + ", which this file does not support");
      }
    }

    /** The keys of one map, checked against the allowed ones as soon as the map is read. */
    private final class Section {
      private final Item self;
      private final Map<String, Item> entries = new LinkedHashMap<>();

      Section(Item item, List<String> allowed) {
        this.self = item;
        checkTag(item);
        if (!(item.node() instanceof MappingNode)) {
          throw error(item, "must be a map of " + String.join(", ", allowed) + ", got " + describe(item.node())
              + (isNull(item.node()) ? " (remove the key to use the defaults)" : ""));
        }
        Map<String, Integer> keyLines = new LinkedHashMap<>();
        for (NodeTuple tuple : ((MappingNode) item.node()).getValue()) {
          Node keyNode = tuple.getKeyNode();
          int keyLine = lineOf(keyNode, item.line());
          if (!(keyNode instanceof ScalarNode) || isNull(keyNode) || !PLAIN_TAGS.contains(keyNode.getTag())) {
            throw error(keyLine, item.path(), "keys must be plain names, got " + describe(keyNode) + " as a key");
          }
          String key = ((ScalarNode) keyNode).getValue();
          String path = child(item.path(), shorten(key, 64));
          if (!allowed.contains(key)) {
            throw error(keyLine, path, unknownKey(key, allowed));
          }
          Integer firstLine = keyLines.putIfAbsent(key, keyLine);
          if (firstLine != null) {
            throw error(keyLine, path, "duplicate key; " + quote(key) + " is already set at line " + firstLine);
          }
          Node value = tuple.getValueNode();
          entries.put(key, new Item(value, isNull(value) ? keyLine : lineOf(value, keyLine), path));
        }
      }

      boolean has(String key) {
        return entries.containsKey(key);
      }

      Item get(String key) {
        return entries.get(key);
      }

      Item required(String key, String what) {
        Item item = entries.get(key);
        if (item == null) {
          throw error(self.line(), child(self.path(), key), "is required (" + what + ")");
        }
        return item;
      }
    }
  }

  // ---------------------------------------------------------------- text helpers

  private static String unknownKey(String key, List<String> allowed) {
    StringBuilder problem = new StringBuilder("unknown key ").append(quote(key));
    String suggestion = null;
    int best = 3;
    for (String candidate : allowed) {
      int distance = candidate.equalsIgnoreCase(key) ? 0 : editDistance(key.toLowerCase(Locale.ROOT), candidate.toLowerCase(Locale.ROOT), best);
      if (distance < best) {
        best = distance;
        suggestion = candidate;
      }
    }
    if (suggestion != null) {
      problem.append("; did you mean ").append(quote(suggestion)).append('?');
    }
    return problem.append(" Allowed keys: ").append(String.join(", ", allowed)).toString();
  }

  /** Levenshtein distance, giving up (returning {@code limit}) once it cannot be below it. */
  private static int editDistance(String a, String b, int limit) {
    if (Math.abs(a.length() - b.length()) >= limit || a.length() > 64) {
      return limit;
    }
    int[] previous = new int[b.length() + 1];
    int[] current = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      previous[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      current[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        current[j] = Math.min(Math.min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
      }
      int[] swap = previous;
      previous = current;
      current = swap;
    }
    return Math.min(previous[b.length()], limit);
  }

  private static String child(String path, String key) {
    return path.isEmpty() ? key : path + "." + key;
  }

  private static boolean isNull(Node node) {
    return node instanceof ScalarNode && Tag.NULL.equals(node.getTag());
  }

  private static int lineOf(Node node, int fallback) {
    return node.getStartMark().map(m -> m.getLine() + 1).orElse(fallback);
  }

  private static int lineAtCodePoint(String text, int codePointIndex) {
    int line = 1;
    int seen = 0;
    for (int i = 0; i < text.length() && seen < codePointIndex; i += Character.charCount(text.codePointAt(i)), seen++) {
      if (text.charAt(i) == '\n') {
        line++;
      }
    }
    return line;
  }

  private static String describe(Node node) {
    if (node instanceof MappingNode) {
      return "a map";
    }
    if (node instanceof SequenceNode) {
      return "a list";
    }
    if (isNull(node)) {
      return "no value";
    }
    if (node instanceof ScalarNode) {
      return quote(((ScalarNode) node).getValue());
    }
    return "an alias";
  }

  /** The value in double quotes, shortened, with control characters escaped: safe in a one-line message. */
  static String quote(String value) {
    String shortened = shorten(value, 80);
    StringBuilder out = new StringBuilder(shortened.length() + 2).append('"');
    for (int i = 0; i < shortened.length(); i++) {
      char c = shortened.charAt(i);
      if (c == '"' || c == '\\') {
        out.append('\\').append(c);
      } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == '\u2028' || c == '\u2029') {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.append('"').toString();
  }

  private static String shorten(String value, int max) {
    if (value.length() <= max) {
      return value;
    }
    int cut = Character.isHighSurrogate(value.charAt(max - 1)) ? max - 1 : max;
    return value.substring(0, cut) + "…";
  }
}
