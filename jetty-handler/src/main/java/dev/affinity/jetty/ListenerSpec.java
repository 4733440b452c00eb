package dev.affinity.jetty;

import static java.util.Objects.requireNonNull;

import dev.affinity.tls.ServerCertificates;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;

/**
 * One address {@link AffinityServer} accepts clients on: plain HTTP, HTTPS ({@link Tls}), or a
 * plain listener that only redirects to an HTTPS one ({@link Builder#redirectToHttps}). Built with
 * a fail-fast builder; immutable.
 */
public final class ListenerSpec {
  private final String host;
  private final int port;
  private final Tls tls;
  private final Integer redirectToHttps;
  private final boolean proxyProtocol;
  private final boolean http2;

  private ListenerSpec(Builder b) {
    this.http2 = b.http2;
    this.host = b.host;
    this.port = b.port;
    this.tls = b.tls;
    this.redirectToHttps = b.redirectToHttps;
    this.proxyProtocol = b.proxyProtocol;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A plain HTTP listener. */
  public static ListenerSpec http(String host, int port) {
    return builder().host(host).port(port).build();
  }

  public String host() {
    return host;
  }

  /**
   * {@code host:port} as configured: the name listener rules are keyed by ({@code Router.Builder.rules(String, RuleSet)}),
   * and the name of the listener's Jetty connector.
   */
  public String name() {
    return host + ":" + port;
  }

  /** The configured port; 0 picks a free one (see {@link AffinityServer#port(int)} for the bound one). */
  public int port() {
    return port;
  }

  public Optional<Tls> tls() {
    return Optional.ofNullable(tls);
  }

  /** The HTTPS port every request on this listener is redirected to, if this is a redirect listener. */
  public OptionalInt redirectToHttps() {
    return redirectToHttps == null ? OptionalInt.empty() : OptionalInt.of(redirectToHttps);
  }

  /** Whether the listener also speaks HTTP/2: h2c (prior knowledge and {@code Upgrade: h2c}) when plain, h2 over ALPN with TLS. */
  public boolean http2() {
    return http2;
  }

  /** Whether connections start with a PROXY protocol header (required from trusted proxies, refused from others). */
  public boolean proxyProtocol() {
    return proxyProtocol;
  }

  @Override
  public String toString() {
    return (tls != null ? "https://" : "http://") + host + ":" + port
        + (redirectToHttps != null ? " (redirects to HTTPS port " + redirectToHttps + ")" : "")
        + (proxyProtocol ? " (PROXY protocol)" : "")
        + (tls != null && tls.provider() != Tls.Provider.JDK ? " (TLS by " + tls.provider().id() + ")" : "");
  }

  public static final class Builder {
    private String host = "127.0.0.1";
    private int port;
    private Tls tls;
    private Integer redirectToHttps;
    private boolean proxyProtocol;
    private boolean http2 = true;

    private Builder() {}

    /**
     * Whether the listener also speaks HTTP/2 beside HTTP/1.1 (default {@code true}): h2c on a plain
     * listener, h2 chosen by ALPN on a TLS one. HTTP/1.1 and its WebSocket upgrades work either way.
     */
    public Builder http2(boolean http2) {
      this.http2 = http2;
      return this;
    }

    /**
     * Whether connections start with a PROXY protocol (v1/v2) header, as AWS NLB and HAProxy's
     * {@code send-proxy-v2} send it: required from the server's trusted proxies, and a connection from
     * any other peer that sends one is closed. The server refuses it without trusted proxies.
     */
    public Builder proxyProtocol(boolean proxyProtocol) {
      this.proxyProtocol = proxyProtocol;
      return this;
    }

    /** The interface to bind; default 127.0.0.1. */
    public Builder host(String host) {
      this.host = requireNonNull(host, "host");
      return this;
    }

    /** 0 picks a free port. */
    public Builder port(int port) {
      this.port = checkPort("port", port);
      return this;
    }

    /** Serves HTTPS with these settings. */
    public Builder tls(Tls tls) {
      requireNonNull(tls, "tls");
      if (redirectToHttps != null) {
        throw new IllegalStateException("a listener that redirects to HTTPS port " + redirectToHttps + " serves no TLS itself");
      }
      this.tls = tls;
      return this;
    }

    /**
     * Answers every request with {@code 301} to {@code https://HOST:port/path?query} (HOST from the
     * request's Host header); {@code port} must be an HTTPS listener of the same server.
     */
    public Builder redirectToHttps(int port) {
      if (tls != null) {
        throw new IllegalStateException("a TLS listener cannot also redirect to HTTPS port " + port);
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("redirectToHttps must be a port between 1 and 65535, got " + port);
      }
      this.redirectToHttps = port;
      return this;
    }

    public ListenerSpec build() {
      return new ListenerSpec(this);
    }
  }

  /**
   * TLS settings of a listener: where the certificates come from (PEM pairs or a key store, several
   * chosen by SNI), the protocol versions (TLSv1.3 and TLSv1.2 only) and, optionally, the CAs whose
   * client certificates are asked for, and whether one is required.
   */
  public static final class Tls {
    /** With a client CA: whether a client without a certificate may still connect. */
    public enum ClientAuth {
      /** No certificate, no handshake (mutual TLS; ALB's mTLS "verify" mode). The default with a client CA. */
      REQUIRED,
      /**
       * A certificate is asked for and, when one is sent, must chain to the client CA; a client that
       * sends none is served too, and its requests reach targets without a client certificate header.
       */
      OPTIONAL
    }

    /** The protocol versions a listener may offer: TLS 1.0 and 1.1 are broken, SSL long gone. */
    public static final List<String> SUPPORTED_PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private final ServerCertificates certificates;
    private final List<String> protocols;
    private final Path clientCa;
    private final ClientAuth clientAuth;
    private final Provider provider;

    private Tls(Builder b) {
      this.certificates = b.certificates;
      this.protocols = List.copyOf(b.protocols);
      this.clientCa = b.clientCa;
      this.clientAuth = b.clientCa == null ? null : b.clientAuth != null ? b.clientAuth : ClientAuth.REQUIRED;
      this.provider = b.provider;
    }

    /** Whose TLS implementation runs the listener's handshakes and records. */
    public enum Provider {
      /** The JDK's own TLS (SunJSSE); the default. */
      JDK,
      /**
       * Conscrypt, Google's JSSE provider over BoringSSL (native code, bundled for linux, macOS and
       * Windows on x86_64 and more): cheaper handshakes and records than the JDK's. Only for
       * this listener; the JVM's default provider is left alone.
       */
      CONSCRYPT;

      /** Why this provider cannot run on this machine (Conscrypt without its native library), or empty when it can. */
      public Optional<String> unavailable() {
        return this == CONSCRYPT ? Optional.ofNullable(ConscryptTls.unavailableReason()) : Optional.empty();
      }

      /** The lower-case name used in configuration ({@code jdk}, {@code conscrypt}). */
      public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
      }
    }

    public static Builder builder(ServerCertificates certificates) {
      return new Builder(certificates);
    }

    public ServerCertificates certificates() {
      return certificates;
    }

    /** The protocol versions offered, default TLSv1.3 and TLSv1.2. */
    public List<String> protocols() {
      return protocols;
    }

    /** The PEM bundle of CAs client certificates must chain to; empty when no client certificate is asked for. */
    public Optional<Path> clientCa() {
      return Optional.ofNullable(clientCa);
    }

    /** Whether a client certificate is required or only asked for; empty when none is asked for (no client CA). */
    public Optional<ClientAuth> clientAuth() {
      return Optional.ofNullable(clientAuth);
    }

    /** Whose TLS runs this listener, default {@link Provider#JDK}. */
    public Provider provider() {
      return provider;
    }

    public static final class Builder {
      private final ServerCertificates certificates;
      private Set<String> protocols = new LinkedHashSet<>(SUPPORTED_PROTOCOLS);
      private Path clientCa;
      private ClientAuth clientAuth;
      private Provider provider = Provider.JDK;

      private Builder(ServerCertificates certificates) {
        this.certificates = requireNonNull(certificates, "certificates");
      }

      /** Some of {@link #SUPPORTED_PROTOCOLS}, each once. */
      public Builder protocols(List<String> protocols) {
        requireNonNull(protocols, "protocols");
        if (protocols.isEmpty()) {
          throw new IllegalArgumentException("protocols must name at least one of " + SUPPORTED_PROTOCOLS + ", got none");
        }
        Set<String> chosen = new LinkedHashSet<>();
        for (String protocol : protocols) {
          if (!SUPPORTED_PROTOCOLS.contains(protocol)) {
            throw new IllegalArgumentException("protocols must be among " + SUPPORTED_PROTOCOLS + ", got \"" + protocol + "\"");
          }
          if (!chosen.add(protocol)) {
            throw new IllegalArgumentException("protocols names \"" + protocol + "\" twice");
          }
        }
        this.protocols = chosen;
        return this;
      }

      /**
       * Asks for a client certificate issued by one of the CAs in this PEM bundle; required (mutual TLS)
       * unless {@link #clientAuth} says {@link ClientAuth#OPTIONAL}.
       */
      public Builder clientCa(Path bundle) {
        this.clientCa = requireNonNull(bundle, "bundle");
        return this;
      }

      /** Whether the client certificate is required (the default) or optional; needs {@link #clientCa}. */
      public Builder clientAuth(ClientAuth clientAuth) {
        requireNonNull(clientAuth, "clientAuth");
        if (this.clientAuth != null) {
          throw new IllegalStateException("clientAuth was already set to " + this.clientAuth);
        }
        this.clientAuth = clientAuth;
        return this;
      }

      /**
       * Runs the listener's TLS on {@code provider} (default {@link Provider#JDK}).
       *
       * @throws IllegalStateException for {@link Provider#CONSCRYPT} when its native library does not
       *     load on this machine (the message says why)
       */
      public Builder provider(Provider provider) {
        requireNonNull(provider, "provider");
        if (provider == Provider.CONSCRYPT) {
          ConscryptTls.check();
        }
        this.provider = provider;
        return this;
      }

      /** @throws IllegalStateException for a {@link #clientAuth} without a {@link #clientCa} to verify certificates with */
      public Tls build() {
        if (clientAuth != null && clientCa == null) {
          throw new IllegalStateException("clientAuth " + clientAuth + " needs a clientCa to verify client certificates with");
        }
        return new Tls(this);
      }
    }
  }

  static int checkPort(String what, int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(what + " must be between 0 and 65535, got " + port);
    }
    return port;
  }
}
