package dev.affinity.standalone.config;

import dev.affinity.tls.TestPki;
import dev.affinity.tls.TestPki.Issued;
import dev.affinity.tls.TestPki.KeyForm;
import dev.affinity.tls.TestPki.KeyKind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The files docs/configuration.md's examples name, made real in a directory: {@code site.crt} and
 * {@code site.key} (for localhost, 127.0.0.1 and site.test), {@code other.crt}/{@code other.key}
 * (other.test, EC), {@code client.crt}/{@code client.key} (a client certificate, CN=balancer), {@code clients.pem} and {@code ca.pem} (the CA), {@code balancer.p12} (password
 * {@code changeit}) and {@code keystore-password.txt}.
 */
public final class TlsFiles {
  private static TestPki ca;
  private static Issued site;
  private static Issued other;
  private static Issued client;

  public final Path dir;

  private TlsFiles(Path dir) {
    this.dir = dir;
  }

  public static synchronized TlsFiles writeTo(Path dir) throws IOException {
    if (ca == null) {
      ca = TestPki.newCa("Affinity Test CA");
      site = ca.issueServer("site.test", KeyKind.RSA, Duration.ofDays(60), "site.test", "localhost", "127.0.0.1");
      other = ca.issueServer("other.test", KeyKind.EC, Duration.ofDays(60), "other.test");
      client = ca.issueClient("balancer", KeyKind.RSA);
    }
    site.writeChain(dir.resolve("site.crt"));
    site.writeKey(dir.resolve("site.key"), KeyForm.TRADITIONAL);
    other.writeChain(dir.resolve("other.crt"));
    other.writeKey(dir.resolve("other.key"), KeyForm.SEC1_WITH_PARAMETERS);
    client.writeChain(dir.resolve("client.crt"));
    client.writeKey(dir.resolve("client.key"), KeyForm.PKCS8);
    ca.writeCertificate(dir.resolve("clients.pem"));
    ca.writeCertificate(dir.resolve("ca.pem"));
    site.writePkcs12(dir.resolve("balancer.p12"), "site", "changeit");
    Files.writeString(dir.resolve("keystore-password.txt"), "changeit\n");
    return new TlsFiles(dir);
  }

  public TestPki ca() {
    return ca;
  }

  public Issued site() {
    return site;
  }

  public Issued other() {
    return other;
  }
}
