package dev.affinity.route;

import static java.util.Objects.requireNonNull;

import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.Expiry;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.SameSite;
import dev.affinity.cookie.SecureMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * What a target needs to issue route cookies: its own id, the shared keyring, the cookie policy and
 * the default pin. Container-free: the servlet filter reads its init-params into one of these with
 * {@link #parse}, and programmatic users call {@link #builder()}.
 *
 * <p>Every setter and every parsed setting fails fast with a message that names the setting and the
 * value it refused.
 */
public final class RouteSettings {
  public static final String TARGET_ID = "targetId";
  public static final String TARGET_GROUP = "targetGroup";
  public static final String KEYS = "keys";
  public static final String KEYS_FILE = "keysFile";
  public static final String COOKIE_PREFIX = "cookiePrefix";
  public static final String CORS = "cors";
  public static final String SAME_SITE = "sameSite";
  public static final String SECURE = "secure";
  public static final String PIN_DURATION = "pinDuration";
  public static final String PIN_ON_SESSION_CREATE = "pinOnSessionCreate";
  /** System property consulted for the target id when no setting gives one. */
  public static final String TARGET_ID_PROPERTY = "affinity.targetId";
  /** Environment variable consulted for the target id after the system property. */
  public static final String TARGET_ID_ENV = "AFFINITY_TARGET_ID";
  /** Environment variable consulted for the keyring when neither {@code keys} nor {@code keysFile} is set. */
  public static final String KEYS_ENV = "AFFINITY_KEYS";
  public static final Duration DEFAULT_PIN_DURATION = Duration.ofHours(1);
  /** Every setting {@link #parse} reads, in the order the README lists them. */
  public static final List<String> SETTINGS = List.of(TARGET_ID, KEYS, KEYS_FILE, COOKIE_PREFIX, CORS, SAME_SITE,
      SECURE, PIN_DURATION, PIN_ON_SESSION_CREATE, TARGET_GROUP);

  private static final Pattern ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private final String targetId;
  private final String targetGroup;
  private final Keyring keyring;
  private final CookiePolicy cookiePolicy;
  private final Duration pinDuration;
  private final boolean pinOnSessionCreate;
  private final Clock clock;

  private RouteSettings(Builder b) {
    this.targetId = b.targetId;
    this.targetGroup = b.targetGroup;
    this.keyring = b.keyring;
    this.cookiePolicy = b.cookiePolicy;
    this.pinDuration = b.pinDuration;
    this.pinOnSessionCreate = b.pinOnSessionCreate;
    this.clock = b.clock;
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads settings by name from {@code parameters} (init-params), falling back for the target id to
   * the {@value #TARGET_ID_PROPERTY} system property and the {@value #TARGET_ID_ENV} environment
   * variable, and for the keys to {@value #KEYS_ENV}. With no keys anywhere the keyring is
   * {@link Keyring#ephemeral()}, which logs a warning.
   *
   * @throws IllegalArgumentException naming the setting and its value when one is invalid, or naming
   *     all three sources when no target id is given
   */
  public static RouteSettings parse(
      Function<String, String> parameters,
      Function<String, String> systemProperties,
      Function<String, String> environment) {
    requireNonNull(parameters, "parameters");
    requireNonNull(systemProperties, "systemProperties");
    requireNonNull(environment, "environment");
    Builder b = builder();

    String targetId = firstNonBlank(parameters.apply(TARGET_ID), systemProperties.apply(TARGET_ID_PROPERTY),
        environment.apply(TARGET_ID_ENV));
    if (targetId == null) {
      throw new IllegalArgumentException("no target id: set the init-param \"" + TARGET_ID
          + "\", the system property \"" + TARGET_ID_PROPERTY + "\" or the environment variable \""
          + TARGET_ID_ENV + "\"");
    }
    b.targetId(targetId.trim());

    String group = parameters.apply(TARGET_GROUP);
    if (group != null && !group.isBlank()) {
      b.targetGroup(group.trim());
    }

    String keys = parameters.apply(KEYS);
    String keysFile = parameters.apply(KEYS_FILE);
    if (keys != null && !keys.isBlank() && keysFile != null && !keysFile.isBlank()) {
      throw new IllegalArgumentException("set either " + KEYS + " or " + KEYS_FILE + ", not both (" + KEYS_FILE
          + " is \"" + keysFile + "\")");
    }
    if (keys != null && !keys.isBlank()) {
      b.keyring(parseKeys(KEYS, keys));
    } else if (keysFile != null && !keysFile.isBlank()) {
      b.keyring(parseKeys(KEYS_FILE + " \"" + keysFile.trim() + "\"", readKeysFile(keysFile.trim())));
    } else {
      String fromEnv = environment.apply(KEYS_ENV);
      b.keyring(fromEnv != null && !fromEnv.isBlank() ? parseKeys(KEYS_ENV, fromEnv) : Keyring.ephemeral());
    }

    CookiePolicy.Builder policy = CookiePolicy.builder();
    String prefix = parameters.apply(COOKIE_PREFIX);
    if (prefix != null) {
      wrap(COOKIE_PREFIX, prefix, () -> policy.prefix(prefix.trim()));
    }
    String cors = parameters.apply(CORS);
    if (cors != null) {
      policy.cors(parseBoolean(CORS, cors));
    }
    String sameSite = parameters.apply(SAME_SITE);
    if (sameSite != null) {
      wrap(SAME_SITE, sameSite, () -> policy.sameSite(SameSite.parse(sameSite)));
    }
    String secure = parameters.apply(SECURE);
    if (secure != null) {
      wrap(SECURE, secure, () -> policy.secure(SecureMode.parse(secure)));
    }
    try {
      b.cookiePolicy(policy.build());
    } catch (IllegalStateException e) {
      throw new IllegalArgumentException(SAME_SITE + " \"" + sameSite + "\" with " + SECURE + " \"" + secure
          + "\": " + e.getMessage(), e);
    }

    String duration = parameters.apply(PIN_DURATION);
    if (duration != null) {
      b.pinDuration(parsePinDuration(PIN_DURATION, duration));
    }
    String onSession = parameters.apply(PIN_ON_SESSION_CREATE);
    if (onSession != null) {
      b.pinOnSessionCreate(parseBoolean(PIN_ON_SESSION_CREATE, onSession));
    }
    return b.build();
  }

  /**
   * Refuses setting names {@link #parse} does not know, so that a misspelt init-param fails instead of
   * being ignored.
   */
  public static void checkNames(Iterable<String> names) {
    for (String name : requireNonNull(names, "names")) {
      if (!SETTINGS.contains(name)) {
        throw new IllegalArgumentException("unknown setting \"" + name + "\"; known settings are " + SETTINGS);
      }
    }
  }

  /** {@link #parse} with the JVM's system properties and environment. */
  public static RouteSettings parse(Function<String, String> parameters) {
    return parse(parameters, System::getProperty, System::getenv);
  }

  /**
   * Parses an ISO-8601 duration ({@code PT30M}) for a pin and checks it against the 1 s – 7 d range.
   *
   * @param setting named in the message when the value is refused
   */
  public static Duration parsePinDuration(String setting, String text) {
    requireNonNull(setting, "setting");
    if (text == null) {
      throw new IllegalArgumentException(setting + " must be an ISO-8601 duration such as PT1H, got null");
    }
    Duration d;
    try {
      d = Duration.parse(text.trim());
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException(
          setting + " must be an ISO-8601 duration such as PT30M or PT1H, got \"" + text + "\"", e);
    }
    try {
      return Expiry.checkDuration(d);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(setting + " \"" + text + "\": " + e.getMessage(), e);
    }
  }

  /** True for ids a target or group may have: 1-64 characters of {@code A-Z a-z 0-9 . _ -}. */
  public static boolean isValidId(String id) {
    return id != null && ID.matcher(id).matches();
  }

  static String checkId(String setting, String id) {
    requireNonNull(id, setting);
    if (!isValidId(id)) {
      throw new IllegalArgumentException(
          setting + " must be 1-64 characters of A-Z a-z 0-9 . _ -, got \"" + id + "\"");
    }
    return id;
  }

  private static Keyring parseKeys(String source, String text) {
    try {
      return Keyring.parse(text);
    } catch (IllegalArgumentException | IllegalStateException e) {
      // Keyring messages never echo a secret.
      throw new IllegalArgumentException(source + " is not a valid keyring (id:base64secret, primary first): "
          + e.getMessage(), e);
    }
  }

  private static String readKeysFile(String file) {
    try {
      return Files.readString(Path.of(file), StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(KEYS_FILE + " \"" + file + "\" cannot be read: " + e, e);
    }
  }

  /**
   * A boolean setting as the filter's settings spell it ({@code true/yes/on}, {@code false/no/off},
   * any case); anything else is refused with the setting named. Shared with the session settings.
   */
  public static boolean parseBoolean(String setting, String value) {
    switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "true":
      case "yes":
      case "on":
        return true;
      case "false":
      case "no":
      case "off":
        return false;
      default:
        throw new IllegalArgumentException(setting + " must be true or false, got \"" + value + "\"");
    }
  }

  private static void wrap(String setting, String value, Runnable apply) {
    try {
      apply.run();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(setting + " \"" + value + "\" is invalid: " + e.getMessage(), e);
    }
  }

  private static String firstNonBlank(String... values) {
    for (String v : values) {
      if (v != null && !v.isBlank()) {
        return v;
      }
    }
    return null;
  }

  public String targetId() {
    return targetId;
  }

  /** The group sealed into route cookies; empty when none is configured. */
  public String targetGroup() {
    return targetGroup;
  }

  public Keyring keyring() {
    return keyring;
  }

  public CookiePolicy cookiePolicy() {
    return cookiePolicy;
  }

  public Duration pinDuration() {
    return pinDuration;
  }

  public boolean pinOnSessionCreate() {
    return pinOnSessionCreate;
  }

  public Clock clock() {
    return clock;
  }

  @Override
  public String toString() {
    return "RouteSettings{targetId=" + targetId + ", targetGroup=" + targetGroup + ", keyring=" + keyring
        + ", prefix=" + cookiePolicy.names().prefix() + ", cors=" + cookiePolicy.cors() + ", sameSite="
        + cookiePolicy.sameSite() + ", secure=" + cookiePolicy.secureMode() + ", pinDuration=" + pinDuration
        + ", pinOnSessionCreate=" + pinOnSessionCreate + "}";
  }

  /** Fails fast: each setter names the setting and the value it refused. */
  public static final class Builder {
    private String targetId;
    private String targetGroup = "";
    private Keyring keyring;
    private CookiePolicy cookiePolicy = CookiePolicy.defaults();
    private Duration pinDuration = DEFAULT_PIN_DURATION;
    private boolean pinOnSessionCreate = true;
    private Clock clock = Clock.systemUTC();

    private Builder() {}

    /** This target's id, as the balancer knows it. Required. */
    public Builder targetId(String targetId) {
      this.targetId = checkId(TARGET_ID, targetId);
      return this;
    }

    /** The target group sealed into route cookies; empty (the default) for none. */
    public Builder targetGroup(String targetGroup) {
      requireNonNull(targetGroup, TARGET_GROUP);
      this.targetGroup = targetGroup.isEmpty() ? "" : checkId(TARGET_GROUP, targetGroup);
      return this;
    }

    /** The keyring shared with the balancer. Default: {@link Keyring#ephemeral()}, with its warning. */
    public Builder keyring(Keyring keyring) {
      this.keyring = requireNonNull(keyring, "keyring");
      return this;
    }

    public Builder cookiePolicy(CookiePolicy cookiePolicy) {
      this.cookiePolicy = requireNonNull(cookiePolicy, "cookiePolicy");
      return this;
    }

    /** How long {@code pin()} pins when no duration is given. Default PT1H; 1 s – 7 d. */
    public Builder pinDuration(Duration pinDuration) {
      try {
        this.pinDuration = Expiry.checkDuration(pinDuration);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(PIN_DURATION + ": " + e.getMessage(), e);
      }
      return this;
    }

    /** Pin the client when the application creates an HTTP session. Default true. */
    public Builder pinOnSessionCreate(boolean pinOnSessionCreate) {
      this.pinOnSessionCreate = pinOnSessionCreate;
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = requireNonNull(clock, "clock");
      return this;
    }

    public RouteSettings build() {
      if (targetId == null) {
        throw new IllegalStateException(TARGET_ID + " is required");
      }
      if (keyring == null) {
        keyring = Keyring.ephemeral();
      }
      return new RouteSettings(this);
    }
  }
}
