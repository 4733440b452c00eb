package dev.affinity.bench;

import dev.affinity.cookie.AffinityCookieCodec;
import dev.affinity.cookie.AffinityCookies;
import dev.affinity.cookie.AffinityTicket;
import dev.affinity.cookie.CookiePolicy;
import dev.affinity.cookie.CookieSource;
import dev.affinity.cookie.Keyring;
import dev.affinity.cookie.Sealing;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cookie codec on the request path: sealing a new pin, opening a value the balancer has not seen
 * (cache off, so every open decrypts), opening one it has (cache hit, no cryptography), and reading
 * the affinity cookie out of a request with a few other cookies.
 *
 * <pre>java -jar bench/target/benchmarks.jar Codec -f 1 -wi 3 -w 2s -i 5 -r 2s -tu us -bm avgt</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CodecBenchmark {
  private static final String NAME = "AFFINITY";
  /** Distinct values opened in turn, so that a miss is not one value decrypted over and over. */
  private static final int VALUES = 1024;

  @Param({"AES_256_GCM"})
  public String sealing;

  private AffinityCookieCodec uncached;
  private AffinityCookieCodec cached;
  private AffinityCookies cookies;
  private AffinityTicket ticket;
  private String[] values;
  private String hitValue;
  private CookieSource request;
  private int next;
  private Cipher floorCipher;
  private SecretKeySpec floorKey;
  private byte[] floorPlaintext;
  private byte[] floorOutput;
  private byte[] floorAad;
  private byte[] floorNonce;

  @Setup(Level.Trial)
  public void setUp() {
    Keyring keyring = Keyring.builder().addKey("2026-11", new byte[32]).addKey("2026-10", new byte[32]).build();
    Clock clock = Clock.systemUTC();
    Sealing chosen = Sealing.valueOf(sealing);
    uncached = AffinityCookieCodec.builder().keyring(keyring).sealing(chosen).clock(clock).cacheMaximumSize(0).build();
    cached = AffinityCookieCodec.builder().keyring(keyring).sealing(chosen).clock(clock).build();
    cookies = AffinityCookies.of(cached, CookiePolicy.defaults());

    Instant now = clock.instant();
    ticket = AffinityTicket.of("10.0.3.17:8080", "web", now, now.plus(Duration.ofHours(1)));
    values = new String[VALUES];
    for (int i = 0; i < VALUES; i++) {
      values[i] = uncached.seal(NAME, AffinityTicket.of("10.0.3." + i % 250 + ":8080", "web", now, now.plus(Duration.ofHours(1))));
    }
    hitValue = values[0];
    if (cached.open(NAME, hitValue).isEmpty() || uncached.open(NAME, values[VALUES - 1]).isEmpty()) {
      throw new IllegalStateException("benchmark values do not open");
    }
    floorCipher = newGcmCipher();
    floorKey = new SecretKeySpec(new byte[32], "AES");
    floorPlaintext = new byte[37]; // what a ticket for "10.0.3.17:8080" in group "web" encodes to
    floorOutput = new byte[floorPlaintext.length + 16];
    floorAad = new byte[12 + NAME.length()]; // header, key id and cookie name
    floorNonce = new byte[12];
    // A realistic request: the affinity cookie among a few others.
    String[][] jar = {{"_ga", "GA1.2.1234567890.1234567890"}, {NAME, hitValue}, {"lang", "en"}};
    request = name -> {
      for (String[] c : jar) {
        if (c[0].equals(name)) {
          return c[1];
        }
      }
      return null;
    };
  }

  private static Cipher newGcmCipher() {
    try {
      return Cipher.getInstance("AES/GCM/NoPadding");
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Not a codec operation: the JDK's AES-256-GCM alone (init with a new nonce, associated data,
   * encrypt), the floor under {@link #seal()}.
   */
  @Benchmark
  public byte[] jdkAesGcmOnly() throws GeneralSecurityException {
    for (int i = 0; i < floorNonce.length && ++floorNonce[i] == 0; i++) {
      // carry
    }
    floorCipher.init(Cipher.ENCRYPT_MODE, floorKey, new GCMParameterSpec(128, floorNonce));
    floorCipher.updateAAD(floorAad);
    floorCipher.doFinal(floorPlaintext, 0, floorPlaintext.length, floorOutput, 0);
    return floorOutput;
  }

  @Benchmark
  public String seal() {
    return cached.seal(NAME, ticket);
  }

  @Benchmark
  public Optional<AffinityTicket> openMiss() {
    return uncached.open(NAME, values[next++ & (VALUES - 1)]);
  }

  @Benchmark
  public Optional<AffinityTicket> openHit() {
    return cached.open(NAME, hitValue);
  }

  @Benchmark
  public Optional<AffinityTicket> readHit() {
    return cookies.read(request, NAME);
  }
}
