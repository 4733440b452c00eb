package dev.affinity.tls;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * What a set of key material files holds, as one digest: whoever polls certificate files for a
 * rotation compares digests instead of modification times, which a copy can keep and a clock can
 * get wrong.
 */
public final class FileFingerprint {
  private FileFingerprint() {}

  /** A SHA-256 digest over the length and bytes of each file in turn. */
  public static byte[] of(List<Path> files) {
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      for (Path file : files) {
        byte[] bytes;
        try {
          // A FIFO or device put where a certificate was would block the poller: it counts as not there.
          bytes = Files.isRegularFile(file) ? Files.readAllBytes(file) : ("not a regular file " + file).getBytes(StandardCharsets.UTF_8);
        } catch (IOException | SecurityException e) {
          bytes = ("missing " + file).getBytes(StandardCharsets.UTF_8);
        }
        digest.update(Integer.toString(bytes.length).getBytes(StandardCharsets.US_ASCII));
        digest.update((byte) ':');
        digest.update(bytes);
      }
      return digest.digest();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
