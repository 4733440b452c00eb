package dev.affinity.tls;

import static java.util.Objects.requireNonNull;

import java.nio.file.Path;

/**
 * Where one certificate lives as PEM: the chain file (leaf first) and its private key file, as
 * cert-manager ({@code tls.crt}, {@code tls.key}) or certbot ({@code fullchain.pem}, {@code privkey.pem})
 * write them.
 */
public record PemPair(Path certificate, Path key) {
  public PemPair {
    requireNonNull(certificate, "certificate");
    requireNonNull(key, "key");
  }
}
